package dev.fulcrum.server.logging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fulcrum.core.error.InferenceException;
import java.util.HashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

class LogSettingsUpdateTest {
  /** A control that keeps what it is given, counting the changes. */
  private static final class Kept implements LogControl {
    LogSettings settings = new LogSettings("", true, true, true, 0, LogSettings.DEFAULT_FORMAT);
    int applied;

    @Override
    public LogSettings settings() {
      return settings;
    }

    @Override
    public LogSettings apply(LogSettings next) {
      applied++;
      settings = next;
      return next;
    }
  }

  private static Map<String, @Nullable Object> values(Object... pairs) {
    Map<String, @Nullable Object> m = new HashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      m.put((String) pairs[i], pairs[i + 1]);
    }
    return m;
  }

  @Test
  void theLevelsChangeAndTheFileAndFormatMayBeSentBackUnchanged() {
    Kept c = new Kept();
    LogSettings s =
        LogSettingsUpdate.apply(
            c,
            values(
                "log_verbose_level",
                1L,
                "log_info",
                false,
                "log_file",
                "",
                "log_format",
                "default"));
    assertThat(s.verboseLevel()).isEqualTo(1);
    assertThat(s.info()).isFalse();
    assertThat(s.warning()).isTrue();
    assertThat(c.applied).isEqualTo(1);
    assertThat(LogSettingsUpdate.json(s))
        .containsExactly(
            Map.entry("log_file", ""),
            Map.entry("log_info", false),
            Map.entry("log_warning", true),
            Map.entry("log_error", true),
            Map.entry("log_verbose_level", 1),
            Map.entry("log_format", "default"));
    Map<String, @Nullable Object> none = new HashMap<>();
    none.put("log_info", null); // no value: left as it is, as Triton
    LogSettingsUpdate.apply(c, none);
    assertThat(c.applied).isEqualTo(1);
  }

  @Test
  void whatCannotBeHonouredIsRefusedNamingTheSettingAndNothingChanges() {
    Kept c = new Kept();
    Map<String, String> refused =
        Map.of(
            "log_file", "log_file cannot be changed on a running server",
            "log_format", "log_format 'ISO8601' is not available",
            "log_warnings", "unknown log setting 'log_warnings'");
    refused.forEach(
        (name, why) ->
            assertThatThrownBy(
                    () ->
                        LogSettingsUpdate.apply(
                            c,
                            values(
                                "log_verbose_level",
                                2L,
                                name,
                                name.equals("log_format") ? "ISO8601" : "/tmp/x.log")))
                .isInstanceOf(InferenceException.class)
                .hasMessageContaining(why));
    assertThatThrownBy(() -> LogSettingsUpdate.apply(c, values("log_verbose_level", -1L)))
        .hasMessageContaining("log_verbose_level must be an integer >= 0");
    assertThatThrownBy(() -> LogSettingsUpdate.apply(c, values("log_info", "yes")))
        .hasMessageContaining("log_info must be true or false, was \"yes\"");
    assertThat(c.applied).isZero();
    assertThat(c.settings.verboseLevel()).isZero();
  }
}
