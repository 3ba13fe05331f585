package dev.fulcrum.monitoring;

/**
 * The few distribution functions the detectors need: the normal CDF and its inverse, an upper
 * chi-square quantile, a binomial tail bound, and the CUSUM threshold for a target false-alarm
 * rate. Stateless.
 */
final class Stats {
  private Stats() {}

  /** The standard normal CDF (Numerical Recipes' erfc, relative error below 1.2e-7). */
  static double phi(double z) {
    return 0.5 * erfc(-z / Math.sqrt(2));
  }

  private static double erfc(double x) {
    double z = Math.abs(x);
    double t = 1 / (1 + 0.5 * z);
    double r =
        t
            * Math.exp(
                -z * z
                    - 1.26551223
                    + t
                        * (1.00002368
                            + t
                                * (0.37409196
                                    + t
                                        * (0.09678418
                                            + t
                                                * (-0.18628806
                                                    + t
                                                        * (0.27886807
                                                            + t
                                                                * (-1.13520398
                                                                    + t
                                                                        * (1.48851587
                                                                            + t
                                                                                * (-0.82215223
                                                                                    + t
                                                                                        * 0.17087277)))))))));
    return x >= 0 ? r : 2 - r;
  }

  private static final double[] A = {
    -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
    1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00
  };
  private static final double[] B = {
    -5.447609879822406e+01,
    1.615858368580409e+02,
    -1.556989798598866e+02,
    6.680131188771972e+01,
    -1.328068155288572e+01
  };
  private static final double[] C = {
    -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
    -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00
  };
  private static final double[] D = {
    7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00
  };

  /** The inverse of {@link #phi} (Acklam's algorithm, relative error below 1.2e-9). */
  static double phiInverse(double p) {
    if (!(p > 0 && p < 1)) {
      throw new IllegalArgumentException("p must be in (0, 1), was " + p);
    }
    double low = 0.02425;
    if (p < low) {
      double q = Math.sqrt(-2 * Math.log(p));
      return (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
          / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
    }
    if (p > 1 - low) {
      return -phiInverse(1 - p);
    }
    double q = p - 0.5;
    double r = q * q;
    return (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5])
        * q
        / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
  }

  /** The chi-square quantile with upper tail {@code alpha} (Wilson–Hilferty). */
  static double chiSquareUpper(int df, double alpha) {
    double z = phiInverse(1 - alpha);
    double a = 2.0 / (9 * df);
    double c = 1 - a + z * Math.sqrt(a);
    return df * c * c * c;
  }

  /** The smallest k with P(Binomial(n, p) >= k) <= alpha (at least 1). */
  static int binomialCritical(int n, double p, double alpha) {
    // pmf(0..n) in log space, then the upper tail from the top down.
    double[] logPmf = new double[n + 1];
    double lp = Math.log(p);
    double lq = Math.log1p(-p);
    double logChoose = 0;
    for (int k = 0; k <= n; k++) {
      if (k > 0) {
        logChoose += Math.log(n - k + 1) - Math.log(k);
      }
      logPmf[k] = logChoose + k * lp + (n - k) * lq;
    }
    double tail = 0;
    int critical = n + 1;
    for (int k = n; k >= 1; k--) {
      tail += Math.exp(logPmf[k]);
      if (tail > alpha) {
        break;
      }
      critical = k;
    }
    return Math.max(1, critical);
  }

  /**
   * The CUSUM decision threshold h for increments {@code value - k} (values with their weights,
   * standardized), so that the average run length before a false alarm is at least {@code arl0}.
   *
   * <p>With θ the adjustment coefficient of the increments' own distribution (E[exp(θ(Z-k))] = 1),
   * Lundberg's inequality bounds the probability that the random walk started at 0 ever rises above
   * h by exp(-θh), for any distribution: continuous, discrete, or with ties. The CUSUM restarts at
   * 0 (a new cycle) every time its sum would fall to 0 or below, and a cycle lasts at least one
   * observation, so false alarms per observation are at most exp(-θh), and h = ln(arl0)/θ keeps
   * them at most 1/arl0. (The usual approximation ARL0 ≈ exp(θh)/(θk) leaves out the cycles' length
   * and the overshoot; it is close for a normal variable, but came out 1.3× optimistic for the
   * demo's tied features.) Callers shift the values by their rounding step's half towards the side
   * tested, so that rounding cannot make θ larger than the true one.
   */
  static double cusumThreshold(double[] values, double[] weights, double k, double arl0) {
    double theta = adjustment(values, weights, k);
    if (theta == 0) {
      return 1e9; // the sum can never rise
    }
    return Math.min(1e9, Math.max(1, Math.log(arl0) / theta));
  }

  /** θ > 0 with E[exp(θ(Z-k))] = 1, or 0 when no value exceeds k (the sum never rises). */
  static double adjustment(double[] values, double[] weights, double k) {
    double max = Double.NEGATIVE_INFINITY;
    for (double v : values) {
      max = Math.max(max, v);
    }
    if (max <= k) {
      return 0;
    }
    double lo = 1e-6;
    double hi = 1;
    while (mgf(values, weights, k, hi) < 1 && hi < 1e4) {
      hi *= 2;
    }
    for (int i = 0; i < 100; i++) {
      double mid = (lo + hi) / 2;
      if (mgf(values, weights, k, mid) < 1) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  private static double mgf(double[] values, double[] weights, double k, double theta) {
    double s = 0;
    double w = 0;
    for (int i = 0; i < values.length; i++) {
      s += weights[i] * Math.exp(theta * (values[i] - k));
      w += weights[i];
    }
    return s / w;
  }
}
