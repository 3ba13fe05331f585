package dev.fulcrum.server.http;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.FullHttpResponse;

/**
 * A response not yet turned into bytes. Handlers return replies so that every buffer is allocated
 * on the channel's event loop right before it is written, and none exists if the write never
 * happens (the channel closed while the model ran).
 */
@FunctionalInterface
interface Reply {
  FullHttpResponse render(ByteBufAllocator alloc);
}
