import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.fulcrum.core.config.ModelConfigLoader;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * bench/configcost.sh: the thread CPU of reading the demo repository's three config.yaml files in
 * a fresh JVM, by mode: loader (ModelConfigLoader as shipped: the plain mapping, session 10),
 * databind (ModelConfigLoader with -Dfulcrum.config.reader=databind: databind into the records), tree
 * (the same YAML read as a JsonNode tree: what a hand mapping would start from), tokens (only
 * Jackson's streaming YAML parser). An ObjectMapper and the logger are used first, as the server
 * uses them before the configurations anyway, so the figures are the configurations' own share.
 */
public class ConfigCost {
  public static void main(String[] a) throws Exception {
    var mx = ManagementFactory.getThreadMXBean();
    String mode = a[0];
    Path repo = Path.of(a[1]);
    String[] models = {"fraud_classifier", "minilm_text", "all_minilm_l6_v2"};
    org.slf4j.LoggerFactory.getLogger("configcost").debug("start");
    new ObjectMapper().writeValueAsBytes(java.util.Map.of("a", 1));
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long p0 = os.getProcessCpuTime();
    long t0 = mx.getCurrentThreadCpuTime();
    long w0 = System.nanoTime();
    long first = 0;
    for (int i = 0; i < models.length; i++) {
      Path dir = repo.resolve(models[i]);
      switch (mode) {
        case "loader" -> new ModelConfigLoader().readFolder(dir);
        case "databind" -> {
          System.setProperty("fulcrum.config.reader", "databind");
          new ModelConfigLoader().readFolder(dir);
        }
        case "tree" ->
            new ObjectMapper(new YAMLFactory()).readTree(Files.readString(dir.resolve("config.yaml")));
        case "tokens" -> {
          try (JsonParser p = new YAMLFactory().createParser(Files.readString(dir.resolve("config.yaml")))) {
            while (p.nextToken() != null) {}
          }
        }
        default -> throw new IllegalArgumentException(mode);
      }
      if (i == 0) {
        first = mx.getCurrentThreadCpuTime() - t0;
      }
    }
    long all = mx.getCurrentThreadCpuTime() - t0;
    long proc = os.getProcessCpuTime() - p0;
    System.out.printf(
        "%s first_cpu_ms=%.1f all3_cpu_ms=%.1f all3_process_cpu_ms=%.1f all3_wall_ms=%.1f%n",
        mode, first / 1e6, all / 1e6, proc / 1e6, (System.nanoTime() - w0) / 1e6);
  }
}
