package dev.fulcrum.server.shm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.core.tensor.DataType;
import dev.fulcrum.core.tensor.Tensor;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registry over a directory of its own (as /dev/shm): keys confined to it, bounds, duplicate
 * names, and a region unregistered, unlinked or shrunk while a request holds it.
 */
class SharedMemoryRegistryTest {
  @TempDir Path dir;
  private SharedMemoryRegistry registry;

  @BeforeEach
  void setUp() {
    registry = new SharedMemoryRegistry(dir, true);
  }

  private Path object(String name, int size) throws IOException {
    Path p = dir.resolve(name);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(size);
    }
    return p;
  }

  private static InferenceException refusal(Runnable r) {
    try {
      r.run();
    } catch (InferenceException e) {
      return e;
    }
    throw new AssertionError("not refused");
  }

  @Test
  void registeredRegionReadsAndWritesTheObjectFromItsOffset() throws IOException {
    Path p = object("input_data", 64);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.write("0123456789abcdefghij".getBytes(StandardCharsets.US_ASCII));
    }
    registry.register("in", "/input_data", 4, 16);

    ByteBuffer read = registry.region("in").read(2, 4);
    assertThat(StandardCharsets.US_ASCII.decode(read).toString()).isEqualTo("6789");
    registry.region("in").write(0, ByteBuffer.wrap("WXYZ".getBytes(StandardCharsets.US_ASCII)));
    assertThat(new String(Files.readAllBytes(p), 0, 10, StandardCharsets.US_ASCII))
        .isEqualTo("0123WXYZ89");

    assertThat(registry.status(""))
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.name()).isEqualTo("in");
              assertThat(r.key()).isEqualTo("/input_data");
              assertThat(r.offset()).isEqualTo(4);
              assertThat(r.byteSize()).isEqualTo(16);
            });
    assertThat(registry.count()).isEqualTo(1);
    assertThat(registry.bytes()).isEqualTo(16);
  }

  @Test
  void keysThatLeaveTheDirectoryOrNameNoObjectAreRefused() throws IOException {
    object("ok", 8);
    Files.createDirectory(dir.resolve("sub"));
    object("sub/inner", 8);
    for (String key : List.of("", "/", "//", ".", "/..", "../etc/passwd", "/sub/inner", "a/b")) {
      assertThat(refusal(() -> registry.register("r", key, 0, 8)).getMessage())
          .as(key)
          .contains("invalid shm key");
    }
    assertThat(refusal(() -> registry.register("r", "/missing", 0, 8)).getMessage())
        .contains("Unable to open shared memory region: '/missing'", "no such object");
    assertThat(refusal(() -> registry.register("r", "/sub", 0, 8)).getMessage())
        .contains("Unable to open shared memory region: '/sub'");
    // A symbolic link in the directory is not followed (shm_open's O_NOFOLLOW).
    Path secret = Files.writeString(Files.createTempFile("secret", ".txt"), "secret");
    try {
      Files.createSymbolicLink(dir.resolve("link"), secret);
      assertThat(refusal(() -> registry.register("r", "/link", 0, 6)).getMessage())
          .contains("Unable to open shared memory region: '/link'");
    } finally {
      Files.delete(secret);
    }
    assertThat(registry.count()).isZero();
    // Leading slashes are shm_open's: both spellings name the object.
    registry.register("a", "ok", 0, 8);
    registry.register("b", "//ok", 0, 8);
    assertThat(registry.count()).isEqualTo(2);
  }

  @Test
  void rangesBeyondTheObjectOrTheRegionAreRefused() throws IOException {
    object("obj", 100);
    assertThat(refusal(() -> registry.register("r", "/obj", 50, 51)).getMessage())
        .contains("failed to register shared memory region 'r': invalid args", "100 bytes");
    assertThat(refusal(() -> registry.register("r", "/obj", 101, 0)).getMessage())
        .contains("invalid args");
    assertThat(refusal(() -> registry.register("r", "/obj", -1, 4)).getMessage())
        .contains("must not be negative");
    assertThat(refusal(() -> registry.register("r", "/obj", 0, 1L << 31)).getMessage())
        .contains("larger than");
    SharedMemoryRegion r = registry.register("r", "/obj", 50, 50);
    assertThat(refusal(() -> r.read(50, 1)).getMessage())
        .contains("Invalid offset for shared memory region: 'r'");
    assertThat(refusal(() -> r.read(10, 41)).getMessage())
        .contains("Invalid offset + byte size for shared memory region: 'r'");
    assertThat(refusal(() -> r.write(49, ByteBuffer.allocate(2))).getMessage())
        .contains("Invalid offset + byte size");
    assertThat(r.read(0, 50).remaining()).isEqualTo(50);
  }

  @Test
  void aNameIsRegisteredOnceAndFreedByUnregister() throws IOException {
    object("obj", 16);
    registry.register("r", "/obj", 0, 16);
    InferenceException twice = refusal(() -> registry.register("r", "/obj", 0, 8));
    assertThat(twice.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(twice.getMessage()).isEqualTo("shared memory region 'r' already in manager");

    registry.unregister("r");
    registry.unregister("r"); // not registered: not an error (Triton)
    assertThat(refusal(() -> registry.region("r")).code()).isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(refusal(() -> registry.status("r")).getMessage())
        .isEqualTo("Unable to find system shared memory region: 'r'");
    registry.register("r", "/obj", 0, 8);
    registry.register("s", "/obj", 8, 8);
    registry.unregisterAll();
    assertThat(registry.status("")).isEmpty();
  }

  @Test
  void registeringIsOffUnlessAllowedAsTritonsDefault() throws IOException {
    object("obj", 16);
    SharedMemoryRegistry off = new SharedMemoryRegistry(dir, false);
    for (Runnable call :
        List.<Runnable>of(
            () -> off.register("r", "/obj", 0, 16),
            () -> off.unregister("r"),
            off::unregisterAll)) {
      InferenceException e = refusal(call);
      assertThat(e.code()).isEqualTo(ErrorCode.UNIMPLEMENTED);
      assertThat(e.getMessage()).contains("--allow-client-shm=true");
    }
    assertThat(off.status("")).isEmpty();
  }

  @Test
  void aRegionUnregisteredAndUnlinkedStaysMappedForTheRequestThatHoldsIt() throws IOException {
    Path p = object("obj", 4096);
    registry.register("r", "/obj", 0, 4096);
    // A request resolved the region (decode), then it is unregistered and the object unlinked,
    // as tritonclient's destroy_shared_memory_region does, before the request writes its output.
    SharedMemoryOutput out =
        SharedMemoryTensors.output(
            "y",
            Map.of(SharedMemoryTensors.REGION, "r", SharedMemoryTensors.BYTE_SIZE, 8L),
            registry);
    registry.unregister("r");
    Files.delete(p);
    System.gc(); // the held mapping is reachable: nothing may unmap it

    Tensor y = Tensor.of("y", DataType.INT64, new long[] {1}, le(8).putLong(0, 42L));
    out.write(y);
    assertThat(out.placement().region().read(0, 8).getLong(0)).isEqualTo(42L);
    assertThat(refusal(() -> registry.region("r")).code()).isEqualTo(ErrorCode.NOT_FOUND);
    // The name is free again for a new object.
    object("obj", 16);
    assertThat(registry.register("r", "/obj", 0, 16).byteSize()).isEqualTo(16);
  }

  @Test
  void anObjectShrunkUnderItsMappingIsARefusalNotACrash() throws IOException {
    Path p = object("obj", 1 << 16);
    SharedMemoryRegion r = registry.register("r", "/obj", 0, 1 << 16);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(0);
    }
    InferenceException e = refusal(() -> r.read(8192, 4096));
    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("shared memory region 'r' cannot be accessed");
    assertThat(refusal(() -> r.write(8192, ByteBuffer.allocateDirect(4096))).getMessage())
        .contains("smaller than when it was registered");
  }

  @Test
  void requestsRacingUnregisterAndRegisterEitherUseARegionOrAreToldItIsGone() throws Exception {
    object("obj", 1 << 20);
    registry.register("r", "/obj", 0, 1 << 20);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong used = new AtomicLong();
    AtomicLong gone = new AtomicLong();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch started = new CountDownLatch(4);
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      int id = t;
      threads.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    started.countDown();
                    ByteBuffer data = ByteBuffer.allocateDirect(4096);
                    while (!stop.get()) {
                      try {
                        SharedMemoryRegion r = registry.region("r");
                        r.write(id * 4096L, data);
                        r.read(id * 4096L, 4096);
                        used.incrementAndGet();
                      } catch (InferenceException e) {
                        if (e.code() != ErrorCode.NOT_FOUND) {
                          failure.set(e);
                        }
                        gone.incrementAndGet();
                      } catch (Throwable e) {
                        failure.set(e);
                      }
                    }
                  }));
    }
    started.await();
    for (int i = 0; i < 300; i++) {
      registry.unregister("r");
      if (i % 50 == 0) {
        System.gc();
      }
      registry.register("r", "/obj", 0, 1 << 20);
    }
    stop.set(true);
    for (Thread t : threads) {
      t.join();
    }
    assertThat(failure.get()).isNull();
    assertThat(used.get()).isPositive();
  }

  @Test
  void anInputLargerThanARequestMayBeIsRefusedBeforeItIsCopied() throws IOException {
    object("big", 64);
    SharedMemoryRegistry small = new SharedMemoryRegistry(dir, true, 32);
    small.register("r", "/big", 0, 64);
    SharedMemoryTensors.Placement all = new SharedMemoryTensors.Placement(small.region("r"), 0, 64);
    InferenceException e =
        refusal(
            () ->
                SharedMemoryTensors.input(
                    "x",
                    DataType.FP32,
                    new long[] {1, 16},
                    all,
                    small,
                    new SharedMemoryTensors.Taken()));
    assertThat(e.code()).isEqualTo(ErrorCode.TOO_LARGE);
    assertThat(e.getMessage()).contains("input 'x'", "64 bytes", "32 bytes");
  }

  @Test
  void aRequestsInputsTakeFromRegionsTogetherAtMostOneRequestsBytes() throws IOException {
    object("big", 64);
    SharedMemoryRegistry small = new SharedMemoryRegistry(dir, true, 40);
    small.register("r", "/big", 0, 64);
    SharedMemoryTensors.Placement first =
        new SharedMemoryTensors.Placement(small.region("r"), 0, 24);
    SharedMemoryTensors.Placement second =
        new SharedMemoryTensors.Placement(small.region("r"), 24, 24);
    SharedMemoryTensors.Taken taken = new SharedMemoryTensors.Taken();
    SharedMemoryTensors.input("a", DataType.FP32, new long[] {1, 6}, first, small, taken);
    assertThat(taken.bytes()).isEqualTo(24);
    InferenceException e =
        refusal(
            () ->
                SharedMemoryTensors.input(
                    "b", DataType.FP32, new long[] {1, 6}, second, small, taken));
    assertThat(e.code()).isEqualTo(ErrorCode.TOO_LARGE);
    assertThat(e.getMessage()).contains("input 'b'", "24 bytes", "before it take 24", "40 bytes");
    assertThat(taken.bytes()).as("nothing copied for the refused input").isEqualTo(24);
    // Another request starts from nothing.
    SharedMemoryTensors.input(
        "b", DataType.FP32, new long[] {1, 6}, second, small, new SharedMemoryTensors.Taken());
  }

  @Test
  void eachTenantsViewHasItsOwnRegionsAndNamesWithoutTenantsEveryoneSharesOne() throws IOException {
    object("obj", 64);
    object("obj_b", 64);
    Tenant a = new Tenant("a");
    Tenant b = new Tenant("b");
    registry.forTenant(a).register("r", "/obj", 0, 64);
    assertThat(registry.forTenant(b).status("")).isEmpty();
    assertThat(refusal(() -> registry.forTenant(b).region("r")).code())
        .isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(refusal(() -> registry.forTenant(b).status("r")).code())
        .isEqualTo(ErrorCode.NOT_FOUND);
    registry.forTenant(b).register("r", "/obj_b", 0, 32);
    assertThat(registry.forTenant(a).region("r").byteSize()).isEqualTo(64);
    assertThat(registry.forTenant(b).region("r").byteSize()).isEqualTo(32);
    assertThat(registry.count()).isEqualTo(2);
    assertThat(registry.bytes()).isEqualTo(96);
    registry.forTenant(b).unregisterAll();
    assertThat(registry.forTenant(a).status(""))
        .extracting(SharedMemoryRegion::name)
        .containsExactly("r");
    registry.forTenant(b).unregister("r");
    assertThat(registry.forTenant(a).region("r").byteSize()).isEqualTo(64);
    // No tenant: the registry itself, whose regions are those registered without tenants.
    assertThat(registry.forTenant(null)).isSameAs(registry);
    assertThat(registry.status("")).isEmpty();
    registry.forTenant(a).unregister("r");
    assertThat(registry.count()).isZero();
  }

  @Test
  void aKeyBelongsToTheTenantWhoseRegionsMapItAndIsAnsweredToOthersAsAKeyThatDoesNotExist()
      throws IOException {
    object("obj", 64);
    Tenant a = new Tenant("a");
    Tenant b = new Tenant("b");
    registry.forTenant(a).register("r", "/obj", 0, 64);
    registry.forTenant(a).register("r2", "obj", 32, 32); // the owner maps its key again
    InferenceException missing = refusal(() -> registry.forTenant(b).register("x", "/none", 0, 8));
    for (String key : List.of("/obj", "obj", "//obj")) {
      InferenceException e = refusal(() -> registry.forTenant(b).register("x", key, 0, 8));
      assertThat(e.code()).isEqualTo(missing.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
      assertThat(e.getMessage())
          .isEqualTo(missing.getMessage().replace("/none", key))
          .isEqualTo("Unable to open shared memory region: '" + key + "' (no such object)");
    }
    assertThat(registry.forTenant(b).status("")).isEmpty();
    // Free again once none of the owner's regions maps it.
    registry.forTenant(a).unregister("r");
    assertThat(refusal(() -> registry.forTenant(b).register("x", "/obj", 0, 8)).code())
        .isEqualTo(ErrorCode.INVALID_ARGUMENT);
    registry.forTenant(a).unregisterAll();
    registry.forTenant(b).register("x", "/obj", 0, 8);
    assertThat(refusal(() -> registry.forTenant(a).register("r", "/obj", 0, 8)).getMessage())
        .isEqualTo("Unable to open shared memory region: '/obj' (no such object)");
  }

  @Test
  void oneTenantHoldsAtMostItsShareOfTheRegionsAndAViewIsMadeOncePerTenant() throws IOException {
    object("obj", 64);
    object("obj_b", 64);
    Tenant a = new Tenant("a");
    Tenant b = new Tenant("b");
    SharedMemoryRegistry view = registry.forTenant(a);
    assertThat(registry.forTenant(new Tenant("a"))).isSameAs(view);
    assertThat(view.forTenant(a)).isSameAs(view);
    for (int i = 0; i < SharedMemoryRegistry.MAX_REGIONS_PER_TENANT; i++) {
      view.register("r" + i, "/obj", 0, 8);
    }
    InferenceException e = refusal(() -> view.register("more", "/obj", 0, 8));
    assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
    assertThat(e.getMessage())
        .isEqualTo(
            "failed to register shared memory region 'more': tenant 'a' has 128 regions"
                + " registered, the most one tenant may; unregister those no longer used");
    // Another tenant still registers, and so does the owner once it unregistered one.
    registry.forTenant(b).register("r0", "/obj_b", 0, 8);
    view.unregister("r0");
    view.register("more", "/obj", 0, 8);
    // Without tenants, only the server's limit.
    view.unregisterAll();
    for (int i = 0; i <= SharedMemoryRegistry.MAX_REGIONS_PER_TENANT; i++) {
      registry.register("r" + i, "/obj", 0, 8);
    }
  }

  @Test
  void aTenantsShareOfTheRegionsIsTheServersOption() throws IOException {
    object("obj", 64);
    object("obj_b", 64);
    SharedMemoryRegistry two = new SharedMemoryRegistry(dir, true, 1 << 20, 2);
    SharedMemoryRegistry view = two.forTenant(new Tenant("a"));
    view.register("r0", "/obj", 0, 8);
    view.register("r1", "/obj", 0, 8);
    InferenceException e = refusal(() -> view.register("r2", "/obj", 0, 8));
    assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
    assertThat(e.getMessage()).contains("tenant 'a' has 2 regions registered");
    two.forTenant(new Tenant("b")).register("r0", "/obj_b", 0, 8);
    for (int share : new int[] {0, -1, SharedMemoryRegistry.MAX_REGIONS_PER_TENANT_LIMIT + 1}) {
      assertThatThrownBy(() -> new SharedMemoryRegistry(dir, true, 1 << 20, share))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(
              "a tenant's shared memory regions must be 1 to 1024, was %d".formatted(share));
    }
  }

  @Test
  void inputsAreCheckedAgainstTheirShapeAndOutputsAgainstTheirRoom() throws IOException {
    object("obj", 64);
    ByteBuffer floats = le(16);
    for (int i = 0; i < 4; i++) {
      floats.putFloat(i * 4, i + 0.5f);
    }
    registry.register("r", "/obj", 0, 64);
    registry.region("r").write(0, floats);
    SharedMemoryTensors.Placement sixteen =
        SharedMemoryTensors.placement(
            "input 'x'",
            Map.of(SharedMemoryTensors.REGION, "r", SharedMemoryTensors.BYTE_SIZE, 16L),
            registry);
    Tensor x =
        SharedMemoryTensors.input(
            "x",
            DataType.FP32,
            new long[] {1, 4},
            sixteen,
            registry,
            new SharedMemoryTensors.Taken());
    assertThat(x.data().getFloat(12)).isEqualTo(3.5f);
    assertThat(
            refusal(
                    () ->
                        SharedMemoryTensors.input(
                            "x",
                            DataType.FP32,
                            new long[] {1, 3},
                            sixteen,
                            registry,
                            new SharedMemoryTensors.Taken()))
                .getMessage())
        .contains("input 'x': shared_memory_byte_size is 16 but shape [1, 3] of FP32 needs 12");
    // BYTES: Triton's layout, a 4-byte little-endian length before each element.
    ByteBuffer strings = le(12).putInt(0, 3).put(4, "abc".getBytes(StandardCharsets.US_ASCII));
    strings.putInt(7, 1).put(11, (byte) 'z');
    registry.region("r").write(16, strings);
    SharedMemoryTensors.Placement twelve =
        new SharedMemoryTensors.Placement(registry.region("r"), 16, 12);
    assertThat(
            SharedMemoryTensors.input(
                    "s",
                    DataType.BYTES,
                    new long[] {2},
                    twelve,
                    registry,
                    new SharedMemoryTensors.Taken())
                .bytesElements())
        .containsExactly("abc".getBytes(StandardCharsets.US_ASCII), new byte[] {'z'});
    assertThat(
            refusal(
                    () ->
                        SharedMemoryTensors.input(
                            "s",
                            DataType.BYTES,
                            new long[] {3},
                            twelve,
                            registry,
                            new SharedMemoryTensors.Taken()))
                .getMessage())
        .contains("input 's' in shared memory region 'r' (offset 16, 12 bytes)", "needs 3");

    Map<String, SharedMemoryOutput> placed =
        SharedMemoryOutput.placements(
            List.of(
                new RequestedOutput("plain", Map.of()),
                new RequestedOutput(
                    "y",
                    Map.of(
                        SharedMemoryTensors.REGION, "r",
                        SharedMemoryTensors.BYTE_SIZE, 8L,
                        SharedMemoryTensors.OFFSET, 32L))),
            registry);
    assertThat(placed).containsOnlyKeys("y");
    Tensor big = Tensor.of("y", DataType.FP32, new long[] {4}, le(16));
    assertThat(refusal(() -> placed.get("y").write(big)).getMessage())
        .isEqualTo(
            "shared memory size specified with the request for output 'y' (8 bytes) should be at"
                + " least 16 bytes to hold the results");
    assertThat(SharedMemoryOutput.placements(List.of(new RequestedOutput("a", Map.of())), null))
        .isEmpty();
    assertThat(
            refusal(
                    () ->
                        SharedMemoryTensors.output(
                            "y",
                            Map.of(
                                SharedMemoryTensors.REGION,
                                "r",
                                "binary_data",
                                true,
                                SharedMemoryTensors.BYTE_SIZE,
                                8L),
                            registry))
                .getMessage())
        .contains("Output can't set both 'shared_memory_region' and 'binary_data'");
    assertThat(
            refusal(
                    () ->
                        SharedMemoryTensors.placement(
                            "input 'x'", Map.of(SharedMemoryTensors.REGION, "r"), registry))
                .getMessage())
        .contains("'shared_memory_byte_size' is required");
  }

  @Test
  void metricsCountTheRegionsAndTheirBytesOnlyWhereRegisteringIsOn() throws IOException {
    object("obj", 64);
    registry.register("a", "/obj", 0, 64);
    registry.register("b", "/obj", 16, 16);
    dev.fulcrum.server.metrics.ServerMetrics metrics =
        new dev.fulcrum.server.metrics.ServerMetrics(false);
    metrics.bindSharedMemory(registry);
    assertThat(metrics.scrape())
        .contains("\nfulcrum_shared_memory_regions 2\n", "\nfulcrum_shared_memory_bytes 80\n");
    dev.fulcrum.server.metrics.ServerMetrics off =
        new dev.fulcrum.server.metrics.ServerMetrics(false);
    off.bindSharedMemory(new SharedMemoryRegistry(dir, false));
    assertThat(off.scrape()).doesNotContain("fulcrum_shared_memory");
  }

  private static ByteBuffer le(int n) {
    return ByteBuffer.allocateDirect(n).order(ByteOrder.LITTLE_ENDIAN);
  }
}
