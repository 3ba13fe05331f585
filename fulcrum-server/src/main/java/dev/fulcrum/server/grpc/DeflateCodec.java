package dev.fulcrum.server.grpc;

import io.grpc.Codec;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.InflaterInputStream;

/**
 * gRPC's {@code deflate} message encoding: zlib-wrapped DEFLATE (RFC 1950), as the gRPC C-core
 * writes it ({@code grpc.Compression.Deflate} in Python's {@code grpcio}, Triton's {@code
 * compression_algorithm="deflate"} in {@code tritonclient.grpc}). grpc-java decodes only {@code
 * gzip} by itself and answers any other encoding UNIMPLEMENTED. grpc-java bounds the decompressed
 * bytes by the largest message size, as for gzip.
 *
 * <p>Stateless; each stream has its own {@link java.util.zip.Inflater}, ended when grpc closes the
 * stream.
 */
final class DeflateCodec implements Codec {
  static final DeflateCodec INSTANCE = new DeflateCodec();

  private DeflateCodec() {}

  @Override
  public String getMessageEncoding() {
    return "deflate";
  }

  @Override
  public OutputStream compress(OutputStream os) {
    return new DeflaterOutputStream(os);
  }

  @Override
  public InputStream decompress(InputStream is) {
    return new InflaterInputStream(is);
  }
}
