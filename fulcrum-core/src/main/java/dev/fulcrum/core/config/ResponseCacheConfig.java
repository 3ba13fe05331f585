package dev.fulcrum.core.config;

/**
 * A model's response cache (Triton's response_cache), from config.yaml's {@code response-cache}.
 *
 * @param enabled whether identical requests are answered from the cache
 * @param maxBytes the bound of the cache: cached outputs and keys together, in bytes
 */
public record ResponseCacheConfig(boolean enabled, long maxBytes) {
  /** The default bound: 64 MiB. */
  public static final long DEFAULT_MAX_BYTES = 64L << 20;

  /** No cache. */
  public static final ResponseCacheConfig DISABLED =
      new ResponseCacheConfig(false, DEFAULT_MAX_BYTES);

  public ResponseCacheConfig {
    if (maxBytes < 1) {
      throw new IllegalArgumentException("maxBytes must be >= 1, was " + maxBytes);
    }
  }
}
