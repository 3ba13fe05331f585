package dev.fulcrum.server.shm;

import dev.fulcrum.core.error.ErrorCode;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.server.ClientText;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * The server's system shared memory regions (Triton's {@code system_shared_memory} extension),
 * shared by the REST and gRPC ports: register maps {@code /dev/shm/<key>} (a POSIX shared memory
 * object, as {@code shm_open} names it), unregister forgets it, and a request resolves a region by
 * name to read an input from it or write an output into it.
 *
 * <p>Design: a region is mapped once, at registration, and stays mapped while anything refers to it
 * ({@link SharedMemoryRegion}: the garbage collector unmaps it). Unregister removes the name at
 * once, so that a new region may take it and no later request finds the old one; a request that
 * resolved the region before keeps using its mapping until it is done (Triton instead keeps the
 * name registered until such requests end). Keys are confined to the shared memory directory: one
 * name, no further {@code /}, not {@code .} or {@code ..}, opened without following a symbolic link
 * and only when it is a regular file. Registering is refused unless the server was started with
 * {@code --allow-client-shm} (Triton's option and default); who may register once tokens are
 * configured is the transports' business (the management scope).
 *
 * <p>Tenants: with tenants on, each region belongs to the tenant whose token registered it. A
 * transport asks {@link #forTenant} for the view of the call's tenant, which registers, lists,
 * unregisters and resolves that tenant's regions only: another tenant's region is answered as a
 * region not registered, and two tenants may each register a region of the same name. A shared
 * memory object (a key) belongs to the tenant whose regions map it while any does: another tenant
 * that registers it is answered exactly as for a key that does not exist, so that it can neither
 * read nor write the owner's tensors nor learn that the key is in use. Without tenants (the view of
 * no tenant) every region is everyone's, as in Triton. The limit on regions mapped at once ({@link
 * #MAX_REGIONS}) is the server's, shared by all tenants; one tenant holds at most its share of them
 * ({@code --client-shm-regions-per-tenant}, {@link #MAX_REGIONS_PER_TENANT} by default), so that no
 * tenant can take every slot.
 *
 * <p>Thread-safe: the names live in a concurrent map; registrations are serialized so that a name
 * is mapped at most once.
 */
public final class SharedMemoryRegistry {
  /** Where {@code shm_open} keeps POSIX shared memory objects on Linux. */
  public static final Path DEV_SHM = Path.of("/dev/shm");

  /** FileChannel.map's limit, and so a region's. */
  private static final long MAX_REGION = Integer.MAX_VALUE;

  /** Triton's words when client shared memory is off. */
  public static final String DISABLED =
      "Client shared memory is disabled. Start the server with '--allow-client-shm=true' to"
          + " enable.";

  /**
   * The most regions registered at once: each is a mapping of the process (the kernel's {@code
   * vm.max_map_count}, 65,530 by default, counts them), and Triton's clients register a few each.
   */
  static final int MAX_REGIONS = 1024;

  /**
   * The most regions one tenant holds at once (with tenants) by default: an eighth of {@link
   * #MAX_REGIONS}, so that one tenant filling its share leaves the others most of the slots.
   */
  public static final int MAX_REGIONS_PER_TENANT = MAX_REGIONS / 8;

  /** The most a tenant's share may be: every region the server maps ({@link #MAX_REGIONS}). */
  public static final int MAX_REGIONS_PER_TENANT_LIMIT = MAX_REGIONS;

  /** A region's name within its owner's: the tenant's name, "" without tenants. */
  private record Owned(String owner, String name) {}

  private final Path directory;
  private final boolean allowed;
  private final long maxInputBytes;

  /** The most regions one tenant holds at once (with tenants). */
  private final int regionsPerTenant;

  /** Every tenant's regions: shared by the views of {@link #forTenant}. */
  private final Map<Owned, SharedMemoryRegion> regions;

  /**
   * Serializes registrations, across the views: a name is mapped at most once, and a key is checked
   * against the other tenants' regions and taken in one step.
   */
  private final Object registering;

  /**
   * One view per tenant (by name), made once, shared by the views: {@link #forTenant} allocates
   * nothing per request.
   */
  private final Map<String, SharedMemoryRegistry> views;

  /** Whose regions this view sees: a tenant's name, or "" without tenants. */
  private final String owner;

  /**
   * @param directory the shared memory directory ({@link #DEV_SHM}; a test's own otherwise)
   * @param allowed whether clients may register regions ({@code --allow-client-shm})
   */
  public SharedMemoryRegistry(Path directory, boolean allowed) {
    this(directory, allowed, MAX_REGION);
  }

  /**
   * @param directory the shared memory directory ({@link #DEV_SHM}; a test's own otherwise)
   * @param allowed whether clients may register regions ({@code --allow-client-shm})
   * @param maxInputBytes the most bytes one input may take from a region: the server's largest
   *     request body, since the input is copied into a buffer of the request's as a body's would be
   */
  public SharedMemoryRegistry(Path directory, boolean allowed, long maxInputBytes) {
    this(directory, allowed, maxInputBytes, MAX_REGIONS_PER_TENANT);
  }

  /**
   * @param directory the shared memory directory ({@link #DEV_SHM}; a test's own otherwise)
   * @param allowed whether clients may register regions ({@code --allow-client-shm})
   * @param maxInputBytes the most bytes one input may take from a region: the server's largest
   *     request body, since the input is copied into a buffer of the request's as a body's would be
   * @param regionsPerTenant the most regions one tenant holds at once ({@code
   *     --client-shm-regions-per-tenant}): 1 to {@link #MAX_REGIONS_PER_TENANT_LIMIT}
   * @throws IllegalArgumentException a share outside those bounds
   */
  public SharedMemoryRegistry(
      Path directory, boolean allowed, long maxInputBytes, int regionsPerTenant) {
    if (regionsPerTenant < 1 || regionsPerTenant > MAX_REGIONS_PER_TENANT_LIMIT) {
      throw new IllegalArgumentException(
          String.format(
              "a tenant's shared memory regions must be 1 to %d, was %d",
              MAX_REGIONS_PER_TENANT_LIMIT, regionsPerTenant));
    }
    this.directory = directory;
    this.allowed = allowed;
    this.maxInputBytes = maxInputBytes;
    this.regionsPerTenant = regionsPerTenant;
    this.regions = new ConcurrentHashMap<>();
    this.registering = new Object();
    this.views = new ConcurrentHashMap<>();
    this.owner = "";
  }

  private SharedMemoryRegistry(SharedMemoryRegistry all, String owner) {
    this.directory = all.directory;
    this.allowed = all.allowed;
    this.maxInputBytes = all.maxInputBytes;
    this.regionsPerTenant = all.regionsPerTenant;
    this.regions = all.regions;
    this.registering = all.registering;
    this.views = all.views;
    this.owner = owner;
  }

  /**
   * The regions {@code tenant} sees: its own (registered with one of its tokens). Null, a server
   * without tenants: this registry, every region. With client shared memory off no region exists:
   * this registry, whose answers are the same for everyone. Allocates nothing but a tenant's first
   * view.
   */
  public SharedMemoryRegistry forTenant(@Nullable Tenant tenant) {
    if (tenant == null || !allowed || tenant.name().equals(owner)) {
      return this;
    }
    SharedMemoryRegistry view = views.get(tenant.name());
    return view != null
        ? view
        : views.computeIfAbsent(tenant.name(), name -> new SharedMemoryRegistry(this, name));
  }

  /** A registry over {@link #DEV_SHM}. */
  public static SharedMemoryRegistry devShm(boolean allowed) {
    return new SharedMemoryRegistry(DEV_SHM, allowed);
  }

  /** A registry over {@link #DEV_SHM} whose inputs take at most {@code maxInputBytes} each. */
  public static SharedMemoryRegistry devShm(boolean allowed, long maxInputBytes) {
    return new SharedMemoryRegistry(DEV_SHM, allowed, maxInputBytes);
  }

  /**
   * A registry over {@link #DEV_SHM} whose inputs take at most {@code maxInputBytes} each and whose
   * tenants hold at most {@code regionsPerTenant} regions each.
   */
  public static SharedMemoryRegistry devShm(
      boolean allowed, long maxInputBytes, int regionsPerTenant) {
    return new SharedMemoryRegistry(DEV_SHM, allowed, maxInputBytes, regionsPerTenant);
  }

  /** The most bytes one input may take from a region. */
  public long maxInputBytes() {
    return maxInputBytes;
  }

  /** Whether clients may register regions. */
  public boolean allowed() {
    return allowed;
  }

  /**
   * Registers {@code name} as {@code byteSize} bytes of the object {@code key} from {@code offset}.
   *
   * @throws InferenceException UNIMPLEMENTED when registering is off; INVALID_ARGUMENT for a name
   *     taken, a key outside the shared memory directory, an object that cannot be opened (or that
   *     another tenant's regions map: the same answer as for a key that does not exist), or a range
   *     beyond its end; RESOURCE_EXHAUSTED when the server's or the tenant's regions are at their
   *     limit
   */
  public SharedMemoryRegion register(String name, String key, long offset, long byteSize) {
    requireAllowed();
    if (name.isEmpty()) {
      throw InferenceException.invalid(
          "'region name' is necessary to register system shared memory region");
    }
    Path file = objectPath(name, key);
    if (offset < 0 || byteSize < 0) {
      throw InferenceException.invalid(
          "failed to register shared memory region '%s': offset %d and byte_size %d must not be"
              + " negative",
          printable(name), offset, byteSize);
    }
    if (byteSize > MAX_REGION) {
      throw InferenceException.invalid(
          "failed to register shared memory region '%s': byte_size %d is larger than the %d bytes"
              + " one region may map; register several regions",
          printable(name), byteSize, MAX_REGION);
    }
    synchronized (registering) {
      Owned id = new Owned(owner, name);
      if (regions.containsKey(id)) {
        throw InferenceException.invalid(
            "shared memory region '%s' already in manager", printable(name));
      }
      if (regions.size() >= MAX_REGIONS) {
        throw InferenceException.exhausted(
            String.format(
                "failed to register shared memory region '%s': %d regions are registered, the"
                    + " most this server maps at once; unregister those no longer used",
                printable(name), MAX_REGIONS));
      }
      if (!owner.isEmpty()) {
        checkTenant(name, key, file);
      }
      SharedMemoryRegion r =
          new SharedMemoryRegion(
              name, key, offset, (int) byteSize, map(name, key, file, offset, byteSize));
      regions.put(id, r);
      return r;
    }
  }

  /**
   * Refuses a registration of this view's tenant past its share of the regions, or of a key that
   * another tenant's regions map (answered as a key that does not exist). Under {@link
   * #registering}: a region registered since is seen, one unregistered since may still count.
   */
  private void checkTenant(String name, String key, Path file) {
    int own = 0;
    boolean othersKey = false;
    for (Map.Entry<Owned, SharedMemoryRegion> e : regions.entrySet()) {
      if (e.getKey().owner().equals(owner)) {
        own++;
      } else if (!othersKey) {
        othersKey = objectPath(name, e.getValue().key()).equals(file);
      }
    }
    // The share first: a tenant at its limit learns nothing about other tenants' keys.
    if (own >= regionsPerTenant) {
      throw InferenceException.exhausted(
          String.format(
              "failed to register shared memory region '%s': tenant '%s' has %d regions"
                  + " registered, the most one tenant may; unregister those no longer used",
              printable(name), owner, regionsPerTenant));
    }
    if (othersKey) {
      throw cannotOpen(key, NO_SUCH_OBJECT);
    }
  }

  private MappedByteBuffer map(String name, String key, Path file, long offset, long byteSize) {
    try (FileChannel ch =
        FileChannel.open(
            file, StandardOpenOption.READ, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
      BasicFileAttributes a =
          Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      if (!a.isRegularFile()) {
        throw cannotOpen(key, "not a shared memory object");
      }
      long size = ch.size();
      if (offset > size || byteSize > size - offset) {
        throw InferenceException.invalid(
            "failed to register shared memory region '%s': invalid args (offset %d + byte_size %d"
                + " is beyond the %d bytes of '%s')",
            printable(name), offset, byteSize, size, printable(key));
      }
      // The mapping outlives the channel (FileChannel.map's contract).
      return ch.map(FileChannel.MapMode.READ_WRITE, offset, byteSize);
    } catch (NoSuchFileException e) {
      throw cannotOpen(key, NO_SUCH_OBJECT);
    } catch (FileSystemException e) {
      throw cannotOpen(key, e.getReason() != null ? e.getReason() : e.getClass().getSimpleName());
    } catch (IOException e) {
      throw cannotOpen(key, String.valueOf(e.getMessage()));
    }
  }

  /** Why a key that names no object cannot be opened (also a key another tenant's regions map). */
  private static final String NO_SUCH_OBJECT = "no such object";

  private static InferenceException cannotOpen(String key, String why) {
    return InferenceException.invalid(
        "Unable to open shared memory region: '%s' (%s)", printable(key), why);
  }

  /**
   * The object a key names: the key less its leading slashes (as {@code shm_open}), which must be
   * one file name in the shared memory directory.
   */
  Path objectPath(String name, String key) {
    int from = 0;
    while (from < key.length() && key.charAt(from) == '/') {
      from++;
    }
    String file = key.substring(from);
    if (file.isEmpty()
        || file.equals(".")
        || file.equals("..")
        || file.indexOf('/') >= 0
        || file.indexOf('\0') >= 0
        || file.length() > 255) {
      throw InferenceException.invalid(
          "cannot register shared memory region '%s' - invalid shm key '%s': a key names one"
              + " POSIX shared memory object ('/name', as shm_open), with no other '/' and not '.'"
              + " or '..'",
          printable(name), printable(key));
    }
    return directory.resolve(file);
  }

  /**
   * Unregisters {@code name}; a name not registered is not an error (Triton's behaviour). Requests
   * that already resolved the region keep its mapping until they are done.
   *
   * @throws InferenceException UNIMPLEMENTED when registering is off
   */
  public void unregister(String name) {
    requireAllowed();
    regions.remove(new Owned(owner, name));
  }

  /**
   * Unregisters every region this view sees (Triton's unregister without a name): with tenants, the
   * tenant's own.
   */
  public void unregisterAll() {
    requireAllowed();
    regions.keySet().removeIf(k -> k.owner().equals(owner));
  }

  /**
   * The region registered as {@code name}.
   *
   * @throws InferenceException NOT_FOUND when none is, INVALID_ARGUMENT when clients may not
   *     register any ({@code --allow-client-shm} off)
   */
  public SharedMemoryRegion region(String name) {
    SharedMemoryRegion r = regions.get(new Owned(owner, name));
    if (r == null && !allowed) {
      // No region can exist: say why, not that this one was not found.
      throw InferenceException.invalid(
          "shared memory region '%s' named in the request: %s", printable(name), DISABLED);
    }
    if (r == null) {
      throw InferenceException.notFound(
          "Unable to find shared memory region: '%s'", printable(name));
    }
    return r;
  }

  /**
   * The status of {@code name}, or of every region (sorted by name) when it is empty.
   *
   * @throws InferenceException NOT_FOUND for a name not registered
   */
  public List<SharedMemoryRegion> status(String name) {
    if (!name.isEmpty()) {
      SharedMemoryRegion r = regions.get(new Owned(owner, name));
      if (r == null) {
        throw InferenceException.notFound(
            "Unable to find system shared memory region: '%s'", printable(name));
      }
      return List.of(r);
    }
    List<SharedMemoryRegion> all = new ArrayList<>();
    regions.forEach(
        (k, r) -> {
          if (k.owner().equals(owner)) {
            all.add(r);
          }
        });
    all.sort(Comparator.comparing(SharedMemoryRegion::name));
    return all;
  }

  /** How many regions are registered, by every tenant. */
  public int count() {
    return regions.size();
  }

  /** The registered regions' bytes, together, of every tenant. */
  public long bytes() {
    long n = 0;
    for (SharedMemoryRegion r : regions.values()) {
      n += r.byteSize();
    }
    return n;
  }

  private void requireAllowed() {
    if (!allowed) {
      throw new InferenceException(ErrorCode.UNIMPLEMENTED, DISABLED);
    }
  }

  private static String printable(String s) {
    return ClientText.printable(s, 200);
  }
}
