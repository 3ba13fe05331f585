package dev.fulcrum.core.tenant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.fulcrum.core.TenantCharges;
import dev.fulcrum.core.error.InferenceException;
import dev.fulcrum.core.inference.InferenceResponse;
import dev.fulcrum.core.inference.RequestTiming;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

class TenantTest {
  private static InferenceResponse response(RequestTiming timing) {
    return new InferenceResponse("m", "1", "", Map.of(), List.of(), timing);
  }

  private static Charge answered(RequestTiming timing) {
    return Objects.requireNonNull(TenantCharges.of(response(timing)));
  }

  /** A pass of {@code batchRows} taking {@code computeMicros}, priced at $1e-6 a prediction. */
  private static RequestTiming pass(int rows, int batchRows, long computeMicros) {
    return RequestTiming.ofPass(0, computeMicros * 1000, batchRows, rows, computeMicros * 1000)
        .withCostPerPrediction(1e-6);
  }

  @Test
  void countsEachRequestsRowsComputeShareAndCost() {
    Tenant a = new Tenant("team-a");
    a.finished("fraud", answered(pass(2, 8, 800)), null); // a quarter of 800 us
    a.finished("fraud", answered(pass(1, 1, 100)), null);
    ModelUsage u = a.usage().get("fraud");
    assertThat(u.requests(Outcome.SUCCESS)).isEqualTo(2);
    assertThat(u.predictions()).isEqualTo(3);
    assertThat(u.computeSeconds()).isCloseTo(300e-6, within(1e-12));
    assertThat(u.costUsd()).isCloseTo(3e-6, within(1e-15));
  }

  @Test
  void theTenantsOfOnePassAddUpToThePassAndItsCost() {
    // Three tenants' requests share one pass of 10 rows and 1 ms: their shares are the pass, and
    // their costs the sum of the cost_usd each was answered with.
    Tenant a = new Tenant("a");
    Tenant b = new Tenant("b");
    Tenant c = new Tenant("c");
    RequestTiming ta = pass(5, 10, 1000);
    RequestTiming tb = pass(3, 10, 1000);
    RequestTiming tc = pass(2, 10, 1000);
    a.finished("fraud", answered(ta), null);
    b.finished("fraud", answered(tb), null);
    c.finished("fraud", answered(tc), null);
    double compute = 0;
    double cost = 0;
    for (Tenant t : List.of(a, b, c)) {
      compute += t.usage().get("fraud").computeSeconds();
      cost += t.usage().get("fraud").costUsd();
    }
    assertThat(compute).isCloseTo(1e-3, within(1e-12));
    assertThat(cost).isCloseTo(ta.costUsd() + tb.costUsd() + tc.costUsd(), within(1e-18));
  }

  @Test
  void failuresAreCountedByOutcomeWithoutRowsOrCost() {
    Tenant a = new Tenant("a");
    a.finished("m", null, InferenceException.invalid("bad"));
    a.finished("m", null, new CompletionException(InferenceException.exhausted("full")));
    a.finished("m", null, InferenceException.unavailable("draining"));
    a.finished("m", null, new IllegalStateException("bug"));
    a.finished("m", null, new CancellationException());
    a.failedBeforeAdmission("m", InferenceException.notFound("no such model"));
    ModelUsage u = a.usage().get("m");
    assertThat(u.requests(Outcome.CLIENT_ERROR)).isEqualTo(3);
    assertThat(u.requests(Outcome.REFUSED)).isEqualTo(2);
    assertThat(u.requests(Outcome.SERVER_ERROR)).isEqualTo(1);
    assertThat(u.requests(Outcome.SUCCESS)).isZero();
    assertThat(u.predictions()).isZero();
    assertThat(u.costUsd()).isZero();
  }

  @Test
  void aRefusalByItsLimitIsCountedAsRefusedAndTakesNoPlace() {
    long[] now = {0};
    Tenant a = new Tenant("a", new TenantLimits(0, 0, 1), () -> now[0]);
    assertThat(a.admit("m")).isNull();
    assertThat(a.admit("m")).isNotNull();
    assertThat(a.usage().get("m").requests(Outcome.REFUSED)).isEqualTo(1);
    a.finished("m", answered(pass(1, 1, 10)), null);
    assertThat(a.inFlight()).isZero();
    assertThat(a.admit("m")).isNull();
  }

  @Test
  void aTenantWithoutLimitsAdmitsEverything() {
    Tenant a = new Tenant("a");
    for (int i = 0; i < 1000; i++) {
      assertThat(a.admit("m")).isNull();
    }
    assertThat(a.usage()).isEmpty();
  }

  @Test
  void namesAreLabelSafe() {
    assertThat(Tenant.checkName("fraud-online_2.eu")).isNull();
    for (String bad : List.of("", "-a", "a b", "a\"b", "a{b}", "x".repeat(64), "é")) {
      assertThat(Tenant.checkName(bad)).as(bad).contains("tenant name");
    }
    assertThatThrownBy(() -> new Tenant("a b")).hasMessageContaining("tenant name");
  }

  @Test
  void anEnsemblesComputeShareIsItsSteps() {
    RequestTiming step1 = pass(1, 4, 400);
    RequestTiming step2 = pass(1, 2, 200);
    RequestTiming e =
        RequestTiming.ofEnsemble(
            1,
            1000,
            List.of(
                new RequestTiming.EnsembleStep(0, "x", "1", 0, step1),
                new RequestTiming.EnsembleStep(1, "y", "1", 0, step2)));
    assertThat(e.computeShareMicros()).isCloseTo(200, within(1e-9));
    assertThat(RequestTiming.ofCacheHit(3, 10).computeShareMicros()).isZero();
  }

  @Test
  void aRequestAnsweredInPartsIsOneRequestWithItsPartsSummedAndGivesBackItsPlace() {
    long[] now = {0};
    Tenant a = new Tenant("a", new TenantLimits(0, 0, 1), () -> now[0]);
    assertThat(a.admit("minilm")).isNull();
    a.finished(
        "minilm",
        TenantCharges.sum(List.of(response(pass(16, 16, 1600)), response(pass(5, 8, 800)))),
        null);
    ModelUsage u = a.usage().get("minilm");
    assertThat(u.requests(Outcome.SUCCESS)).isEqualTo(1);
    assertThat(u.predictions()).isEqualTo(21);
    assertThat(u.computeSeconds()).isCloseTo(2100e-6, within(1e-12));
    assertThat(u.costUsd()).isCloseTo(21e-6, within(1e-15));
    assertThat(a.inFlight()).isZero();
    assertThat(a.admit("minilm")).isNull();
  }
}
