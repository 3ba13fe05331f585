package dev.fulcrum.core.repository;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestedOutput;
import dev.fulcrum.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * The response cache of one model version (Triton's response_cache): a request whose inputs and
 * requested outputs are byte for byte those of an earlier successful one is answered with that
 * one's outputs, without queueing. The key is the request's canonical bytes (each input's name,
 * datatype, shape and data; each requested output and its parameters), found by their SHA-256 and
 * confirmed by comparing the bytes, so a hash collision can never return another request's answer.
 * Bounded in bytes (keys and outputs; Caffeine's weigher, evicting on the writing thread so the
 * bound holds when a put returns). One cache per version: a new version or configuration starts
 * empty, which is how a swap invalidates it.
 *
 * <p>Thread-safe: looked up on the transports' threads, filled on the engine threads.
 */
public final class ResponseCache {
  /** What a cached entry costs beyond its bytes (objects, shapes, the map's entry). */
  private static final int ENTRY_OVERHEAD = 256;

  private final String model;
  private final long version;
  private final long maxBytes;
  private final Cache<Key, Entry> cache;

  /** A request's canonical bytes and their SHA-256. */
  public static final class Key {
    private final byte[] digest;
    private final byte[] bytes;
    private final int hash;

    Key(byte[] digest, byte[] bytes) {
      this.digest = digest;
      this.bytes = bytes;
      this.hash = ByteBuffer.wrap(digest).getInt();
    }

    int weight() {
      return bytes.length + digest.length;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Key k
          && hash == k.hash
          && MessageDigest.isEqual(digest, k.digest)
          && Arrays.equals(bytes, k.bytes);
    }

    @Override
    public int hashCode() {
      return hash;
    }
  }

  private record Entry(List<Tensor> outputs, int weight) {}

  ResponseCache(String model, long version, long maxBytes) {
    this.model = model;
    this.version = version;
    this.maxBytes = maxBytes;
    this.cache =
        Caffeine.newBuilder()
            .maximumWeight(maxBytes)
            .weigher((Key k, Entry e) -> e.weight())
            .executor(Runnable::run)
            .build();
  }

  /** The cache's bound in bytes. */
  public long maxBytes() {
    return maxBytes;
  }

  /** The bytes held now (after pending evictions ran). */
  public long weightedBytes() {
    cache.cleanUp();
    return cache.policy().eviction().map(e -> e.weightedSize().orElse(0L)).orElse(0L);
  }

  /** Entries held now. */
  public long entries() {
    cache.cleanUp();
    return cache.estimatedSize();
  }

  /**
   * The key of a validated request.
   *
   * @param inputs the request's inputs, in the model's order
   * @param outputs the outputs asked for, with their parameters (e.g. {@code classification})
   */
  public Key key(List<Tensor> inputs, List<RequestedOutput> outputs, List<String> outputNames) {
    int size = 16;
    for (Tensor t : inputs) {
      size = Math.addExact(size, 96 + t.name().length() * 3 + t.rank() * 8 + t.byteSize());
    }
    ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    for (Tensor t : inputs) {
      putString(b, t.name());
      putString(b, t.datatype().name());
      b.putInt(t.rank());
      for (long d : t.shape()) {
        b.putLong(d);
      }
      b.putInt(t.byteSize()).put(t.data());
    }
    StringBuilder out = new StringBuilder();
    if (outputs.isEmpty()) {
      outputNames.forEach(n -> out.append(n).append('\n'));
    } else {
      for (RequestedOutput o : outputs) {
        out.append(o.name());
        Map<String, Object> sorted = new TreeMap<>(o.parameters());
        sorted.remove("binary_data"); // how it is written, not what it is
        out.append(sorted).append('\n');
      }
    }
    byte[] tail = out.toString().getBytes(StandardCharsets.UTF_8);
    byte[] bytes = new byte[b.position() + tail.length];
    b.flip().get(bytes, 0, b.remaining());
    System.arraycopy(tail, 0, bytes, bytes.length - tail.length, tail.length);
    try {
      return new Key(MessageDigest.getInstance("SHA-256").digest(bytes), bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void putString(ByteBuffer b, String s) {
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    b.putInt(bytes.length).put(bytes);
  }

  /** The cached answer to a request, under the request's id; null on a miss. */
  public @Nullable InferenceResponse get(Key key, String requestId) {
    Entry e = cache.getIfPresent(key);
    if (e == null) {
      return null;
    }
    return new InferenceResponse(model, Long.toString(version), requestId, Map.of(), e.outputs());
  }

  /**
   * Keeps a successful response. Its outputs are copied, so that the cache holds exactly their
   * bytes (not the whole batch a slice of which they may be); a response larger than the whole
   * bound is not kept.
   */
  public void put(Key key, InferenceResponse response) {
    List<Tensor> copies = new ArrayList<>(response.outputs().size());
    long weight = (long) ENTRY_OVERHEAD + key.weight();
    for (Tensor t : response.outputs()) {
      ByteBuffer copy = ByteBuffer.allocate(t.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
      copy.put(t.data()).flip();
      copies.add(Tensor.of(t.name(), t.datatype(), t.shape(), copy));
      weight += t.byteSize() + ENTRY_OVERHEAD;
    }
    if (weight > Math.min(maxBytes, Integer.MAX_VALUE)) {
      return;
    }
    cache.put(key, new Entry(List.copyOf(copies), (int) weight));
  }
}
