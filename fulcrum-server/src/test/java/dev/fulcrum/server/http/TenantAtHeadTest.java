package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.tenant.Outcome;
import dev.fulcrum.core.tenant.Tenant;
import dev.fulcrum.core.tenant.TenantLimits;
import dev.fulcrum.server.HttpServerConfig;
import dev.fulcrum.server.TenantFixture;
import dev.fulcrum.server.security.AccessPolicy;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tenant's limits judged at a request's head, in the aggregator: an admitted request takes its
 * permit there and hands it on with the aggregated request; one over the limit is refused (429)
 * with nothing of its body buffered; and a permit taken at the head is given back, counted once, on
 * every path that ends the request before it is aggregated.
 */
class TenantAtHeadTest {
  private static final String ONE_AT_ONCE = TenantFixture.token("backfill");
  private static final String OTHER = TenantFixture.token("online");
  private static final int LIMIT = 64 << 20;

  @TempDir Path root;
  private ModelRepository repository;
  private InferenceService service;
  private AccessPolicy access;
  private Tenant limited;

  @BeforeEach
  void setUp() {
    repository = new ModelRepository(List.of(root), List.of(), new ModelConfigResolver(2, 8));
    repository.loadAll();
    service = new InferenceService(repository, false);
    access =
        TenantFixture.policy(
            TenantFixture.inference("backfill", TenantFixture.ONE_AT_ONCE),
            TenantFixture.inference("online", TenantLimits.NONE));
    limited = access.tenants().get(0);
  }

  @AfterEach
  void tearDown() {
    repository.close();
  }

  private EmbeddedChannel channel(int limit, BufferBudget budget) {
    return new EmbeddedChannel(new LimitedAggregator(limit, budget, access, service));
  }

  private static HttpRequest head(String uri, String token, long contentLength) {
    HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, uri);
    r.headers().set(HttpHeaderNames.AUTHORIZATION, "Bearer " + token);
    if (contentLength >= 0) {
      r.headers().set(HttpHeaderNames.CONTENT_LENGTH, contentLength);
    } else {
      r.headers().set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
    }
    return r;
  }

  private static ByteBuf bytes(int n) {
    return Unpooled.directBuffer(n).writeZero(n);
  }

  private long count(Outcome o) {
    return TenantFixture.requests(limited, o);
  }

  @Test
  void anAdmittedRequestHandsItsPermitOnWithTheAggregatedRequest() {
    EmbeddedChannel ch = channel(LIMIT, new BufferBudget(1L << 30));
    ch.writeInbound(head("/v2/models/fraud/infer", ONE_AT_ONCE, 10));
    assertThat(limited.inFlight()).isEqualTo(1); // taken at the head
    ch.writeInbound(new DefaultLastHttpContent(bytes(10)));
    AdmittedRequest a = ch.readInbound();
    assertThat(a.admission().tenant()).isSameAs(limited);
    assertThat(a.admission().isEnded()).isFalse();
    assertThat(a.request().content().readableBytes()).isEqualTo(10);
    // Its holder ends it (here: as the dispatcher drops a request it cannot serve).
    a.admission().ended(Outcome.CLIENT_ERROR);
    a.request().release();
    assertThat(limited.inFlight()).isZero();
    assertThat(count(Outcome.CLIENT_ERROR)).isEqualTo(1);
    ch.finishAndReleaseAll();
  }

  @Test
  void aRequestOverItsTenantsLimitIsRefusedAtItsHeadAndNothingOfItsBodyIsBuffered() {
    BufferBudget budget = new BufferBudget(1L << 30);
    EmbeddedChannel holder = channel(LIMIT, budget);
    holder.writeInbound(head("/v2/models/fraud/infer", ONE_AT_ONCE, 10));
    assertThat(limited.inFlight()).isEqualTo(1);

    EmbeddedChannel ch = channel(LIMIT, budget);
    int length = 8 << 20;
    ch.writeInbound(head("/v2/models/fraud/infer", ONE_AT_ONCE, length));
    RefusedRequest refused = ch.readInbound();
    assertThat(refused.status()).isEqualTo(HttpResponseStatus.TOO_MANY_REQUESTS);
    assertThat(refused.failure()).isNotNull();
    assertThat(refused.failure().retryAfter()).isNotNull();
    assertThat(refused.message()).contains("tenant 'backfill'").contains("concurrency=1");
    assertThat(refused.closeAfter()).as("a declared body within the limit is skipped").isFalse();
    assertThat(count(Outcome.REFUSED)).isEqualTo(1);
    // Its body is dropped as it arrives: nothing reserved, nothing passed on, each read freed.
    // (Netty's aggregation, never begun for it, passes the dropped parts on as they came: the
    // dispatcher hands them to the pipeline's tail, which releases them; here the test does.)
    for (int sent = 0; sent < length; sent += 64 << 10) {
      ByteBuf read = bytes(64 << 10);
      ch.writeInbound(
          sent + (64 << 10) >= length
              ? new DefaultLastHttpContent(read)
              : new DefaultHttpContent(read));
      Object passedOn = ch.readInbound();
      assertThat(passedOn).isNotInstanceOf(FullHttpRequest.class);
      io.netty.util.ReferenceCountUtil.release(passedOn);
      assertThat(read.refCnt()).isZero();
      assertThat(budget.held()).isEqualTo(10); // the holder's body only
    }
    // Another tenant is not held to it.
    ch.writeInbound(head("/v2/models/fraud/infer", OTHER, 10));
    ch.writeInbound(new DefaultLastHttpContent(bytes(10)));
    Object other = ch.readInbound();
    assertThat(other).isNotInstanceOf(RefusedRequest.class);
    io.netty.util.ReferenceCountUtil.release(other);
    assertThat(limited.inFlight()).isEqualTo(1);
    holder.close();
    assertThat(limited.inFlight()).isZero();
    ch.finishAndReleaseAll();
  }

  @Test
  void aConnectionClosedMidBodyGivesThePermitBackCountedOnce() {
    EmbeddedChannel ch = channel(LIMIT, new BufferBudget(1L << 30));
    ch.writeInbound(head("/v2/models/fraud/infer", ONE_AT_ONCE, 1 << 20));
    ch.writeInbound(new DefaultHttpContent(bytes(4096)));
    assertThat(limited.inFlight()).isEqualTo(1);
    assertThatThrownBy(ch::finishAndReleaseAll)
        .isInstanceOf(PrematureChannelClosureException.class);
    assertThat(limited.inFlight()).isZero();
    assertThat(count(Outcome.CLIENT_ERROR)).isEqualTo(1);
  }

  @Test
  void aBodyOverTheLimitOrTheBudgetGivesThePermitBack() {
    EmbeddedChannel oversized = channel(1024, new BufferBudget(1L << 30));
    oversized.writeInbound(head("/v2/models/fraud/infer", ONE_AT_ONCE, -1));
    oversized.writeInbound(new DefaultLastHttpContent(bytes(2048)));
    RefusedRequest tooLarge = oversized.readInbound();
    assertThat(tooLarge.status()).isEqualTo(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE);
    assertThat(limited.inFlight()).isZero();
    assertThat(count(Outcome.CLIENT_ERROR)).isEqualTo(1);
    oversized.finishAndReleaseAll();

    EmbeddedChannel overBudget = channel(LIMIT, new BufferBudget(100 << 10));
    overBudget.writeInbound(head("/v2/models/fraud/infer", ONE_AT_ONCE, -1));
    for (int i = 0; i < 4; i++) {
      overBudget.writeInbound(new DefaultHttpContent(bytes(64 << 10)));
    }
    RefusedRequest full = overBudget.readInbound();
    assertThat(full.status()).isEqualTo(HttpResponseStatus.SERVICE_UNAVAILABLE);
    assertThat(limited.inFlight()).isZero();
    assertThat(count(Outcome.REFUSED)).isEqualTo(1);
    overBudget.finishAndReleaseAll();
  }

  @Test
  void anExpectContinueHeadGivesItsPlaceBackWhenItsBodyIsRefusedAndHoldsItWhileItsBodyComes() {
    // Over the limit: Netty answers the Expect with 413 itself and passes nothing on.
    EmbeddedChannel refused = channel(1024, new BufferBudget(1L << 30));
    HttpRequest big = head("/v2/models/fraud/infer", ONE_AT_ONCE, 4096);
    big.headers().set(HttpHeaderNames.EXPECT, HttpHeaderValues.CONTINUE);
    refused.writeInbound(big);
    FullHttpResponse tooLarge = refused.readOutbound();
    assertThat(tooLarge.status()).isEqualTo(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE);
    tooLarge.release();
    assertThat(limited.inFlight()).isZero();
    assertThat(count(Outcome.CLIENT_ERROR)).isEqualTo(1);
    // (Netty still counts the refused message as being aggregated until a next head or a close)
    assertThatThrownBy(refused::finishAndReleaseAll)
        .isInstanceOf(PrematureChannelClosureException.class);
    assertThat(count(Outcome.CLIENT_ERROR)).isEqualTo(1); // the close counts nothing more

    // Within it: 100 Continue, and the place held until the body is handed on.
    EmbeddedChannel ch = channel(1024, new BufferBudget(1L << 30));
    HttpRequest small = head("/v2/models/fraud/infer", ONE_AT_ONCE, 10);
    small.headers().set(HttpHeaderNames.EXPECT, HttpHeaderValues.CONTINUE);
    ch.writeInbound(small);
    FullHttpResponse go = ch.readOutbound();
    assertThat(go.status()).isEqualTo(HttpResponseStatus.CONTINUE);
    go.release();
    assertThat(limited.inFlight()).isEqualTo(1);
    ch.writeInbound(new DefaultLastHttpContent(bytes(10)));
    AdmittedRequest a = ch.readInbound();
    a.admission().ended(Outcome.CLIENT_ERROR);
    a.request().release();
    assertThat(limited.inFlight()).isZero();
    ch.finishAndReleaseAll();
  }

  @Test
  void onlyInferenceRequestsAreAdmittedAtTheirHead() {
    EmbeddedChannel ch = channel(LIMIT, new BufferBudget(1L << 30));
    HttpRequest metadata =
        new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/v2/models/fraud");
    metadata.headers().set(HttpHeaderNames.AUTHORIZATION, "Bearer " + ONE_AT_ONCE);
    metadata.headers().set(HttpHeaderNames.CONTENT_LENGTH, 0);
    ch.writeInbound(metadata);
    ch.writeInbound(new DefaultLastHttpContent());
    Object passed = ch.readInbound();
    assertThat(passed).isNotInstanceOf(AdmittedRequest.class);
    io.netty.util.ReferenceCountUtil.release(passed);
    assertThat(limited.inFlight()).isZero();
    // The OpenAI API's embeddings are: its model is in the body, so it is counted under "".
    ch.writeInbound(head("/v1/embeddings", ONE_AT_ONCE, 2));
    ch.writeInbound(new DefaultLastHttpContent(bytes(2)));
    AdmittedRequest embeddings = ch.readInbound();
    assertThat(embeddings.admission().model()).isEmpty();
    embeddings.admission().failed(new java.util.concurrent.CancellationException());
    embeddings.request().release();
    assertThat(limited.inFlight()).isZero();
    // TF Serving's predict is an inference request too.
    ch.writeInbound(head("/v1/models/fraud:predict", ONE_AT_ONCE, 2));
    ch.writeInbound(new DefaultLastHttpContent(bytes(2)));
    Object predicted = ch.readInbound();
    assertThat(predicted).isInstanceOf(AdmittedRequest.class);
    AdmittedRequest predict = (AdmittedRequest) predicted;
    predict.admission().failed(new java.util.concurrent.CancellationException());
    predict.request().release();
    assertThat(limited.inFlight()).isZero();
    ch.finishAndReleaseAll();
  }

  @Test
  void anInvocationsRequestCarriesTheModelItsHeadChoseSoThatItIsChosenOnce() {
    InvocationsTarget target =
        new InvocationsTarget(service, new HttpServerConfig.InvocationsModel("fraud", "2"));
    EmbeddedChannel ch =
        new EmbeddedChannel(
            new LimitedAggregator(LIMIT, new BufferBudget(1L << 30), access, service, target));
    ch.writeInbound(head("/invocations", ONE_AT_ONCE, 2));
    ch.writeInbound(new DefaultLastHttpContent(bytes(2)));
    AdmittedRequest configured = ch.readInbound();
    assertThat(configured.invocations())
        .isEqualTo(new HttpServerConfig.InvocationsModel("fraud", "2"));
    configured.admission().failed(new java.util.concurrent.CancellationException());
    configured.request().release();

    HttpRequest named = head("/invocations", ONE_AT_ONCE, 2);
    named.headers().set(InvocationsTarget.TARGET_MODEL, "models/churn.tar.gz");
    ch.writeInbound(named);
    ch.writeInbound(new DefaultLastHttpContent(bytes(2)));
    AdmittedRequest header = ch.readInbound();
    assertThat(header.invocations()).isEqualTo(new HttpServerConfig.InvocationsModel("churn", ""));
    header.admission().failed(new java.util.concurrent.CancellationException());
    header.request().release();

    // Another inference request carries none.
    ch.writeInbound(head("/v2/models/fraud/infer", ONE_AT_ONCE, 2));
    ch.writeInbound(new DefaultLastHttpContent(bytes(2)));
    AdmittedRequest infer = ch.readInbound();
    assertThat(infer.invocations()).isNull();
    infer.admission().failed(new java.util.concurrent.CancellationException());
    infer.request().release();
    assertThat(limited.inFlight()).isZero();
    ch.finishAndReleaseAll();
  }
}
