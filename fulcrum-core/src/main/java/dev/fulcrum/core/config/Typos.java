package dev.fulcrum.core.config;

/**
 * How far a name someone typed is from a name that exists, for "did you mean" hints in
 * configuration errors and on the command line. Stateless.
 */
public final class Typos {
  private Typos() {}

  /**
   * Edit distance counting a swap of two neighbouring letters as one edit, as one insertion,
   * deletion or substitution is (optimal string alignment): a typo's distance.
   */
  public static int distance(String a, String b) {
    int[][] d = new int[a.length() + 1][b.length() + 1];
    for (int i = 0; i <= a.length(); i++) {
      d[i][0] = i;
    }
    for (int j = 0; j <= b.length(); j++) {
      d[0][j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        d[i][j] = Math.min(d[i - 1][j - 1] + cost, Math.min(d[i - 1][j], d[i][j - 1]) + 1);
        if (i > 1
            && j > 1
            && a.charAt(i - 1) == b.charAt(j - 2)
            && a.charAt(i - 2) == b.charAt(j - 1)) {
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    return d[a.length()][b.length()];
  }

  /**
   * Whether {@code typed}, at {@code distance} from a known name, reads as a slip for it: one edit
   * in a name of up to 4 letters, two in a longer one.
   */
  public static boolean isSlip(String typed, int distance) {
    return distance <= (typed.length() <= 4 ? 1 : 2);
  }
}
