package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The cold-start parser must give {@link ServeCommand} exactly what picocli gives it. */
class ServeArgsTest {

  @Test
  void noArgumentsGivesPicocliDefaults() {
    assertSameAsPicocli(List.of());
  }

  @Test
  void everyOptionGivenGivesWhatPicocliGives() throws Exception {
    List<String> args = new ArrayList<>();
    int n = 0;
    for (Map.Entry<String, Field> e : options(new ServeCommand()).entrySet()) {
      Field f = e.getValue();
      Option option = f.getAnnotation(Option.class);
      String name = option.names()[0];
      n++;
      Class<?> type = f.getType();
      if (type == List.class) {
        String element = f.getGenericType().getTypeName().contains("Path") ? "/tmp/r" : "m";
        args.addAll(List.of(name, element + "1", name + "=" + element + "2"));
      } else if (type == boolean.class || type == Boolean.class) {
        args.add(option.arity().isEmpty() ? name : name + "=false");
      } else if (type == int.class || type == long.class) {
        args.addAll(List.of(name, Integer.toString(1000 + n)));
      } else if (type == double.class) {
        args.addAll(List.of(name, "0.25"));
      } else if (type.getSimpleName().equals("URI")) {
        args.addAll(List.of(name, "http://127.0.0.1:9/hook"));
      } else if (type.getSimpleName().equals("Path")) {
        args.addAll(List.of(name, "/tmp/file" + n));
      } else {
        args.addAll(List.of(name, "value" + n));
      }
    }
    assertThat(n).isGreaterThan(30);

    assertSameAsPicocli(args);
  }

  /**
   * The written-out table against the annotations: every long name of every option is known to
   * {@link ServeArgs#set}, and a value given under it lands in that option's field and in no other.
   */
  @Test
  void everyAnnotatedNameSetsItsOwnField() throws Exception {
    ServeCommand defaults = ServeArgs.parse(List.of());
    Map<String, @Nullable Object> before = values(defaults);
    int names = 0;
    for (Map.Entry<String, Field> e : options(new ServeCommand()).entrySet()) {
      Field f = e.getValue();
      Option option = f.getAnnotation(Option.class);
      assertThat(option.split()).as("%s: a split option needs picocli", e.getKey()).isEmpty();
      assertThat(option.defaultValue())
          .as("%s: a variable default needs picocli", e.getKey())
          .doesNotContain("${");
      boolean flag =
          (f.getType() == boolean.class || f.getType() == Boolean.class)
              && option.arity().isEmpty();
      assertThat(flag)
          .as("%s: a flag (no value) is not in ServeArgs' shapes", e.getKey())
          .isFalse();
      for (String name : option.names()) {
        if (!name.startsWith("--")) {
          continue; // a short alias: picocli's
        }
        names++;
        ServeCommand command = ServeArgs.parse(List.of());
        String value = distinct(f);
        assertThat(ServeArgs.set(command, name, value, new HashSet<>()))
            .as("ServeArgs knows %s", name)
            .isTrue();
        Map<String, @Nullable Object> after = values(command);
        Object expected = picocliValue(name, value, e.getKey());
        for (String other : before.keySet()) {
          assertThat(after.get(other))
              .as("%s %s sets %s", name, value, other)
              .isEqualTo(other.equals(e.getKey()) ? expected : before.get(other));
        }
      }
    }
    assertThat(names).isGreaterThan(30);
  }

  @Test
  void whatItDoesNotHandleIsLeftToPicocli() {
    assertThat(ServeArgs.parse(List.of("--help"))).isNull();
    assertThat(ServeArgs.parse(List.of("-h"))).isNull();
    assertThat(ServeArgs.parse(List.of("--no-such-option", "1"))).isNull();
    assertThat(ServeArgs.parse(List.of("--http-port", "eighty"))).isNull();
    assertThat(ServeArgs.parse(List.of("--http-port"))).isNull();
    assertThat(ServeArgs.parse(List.of("--strict-readiness", "maybe"))).isNull();
    assertThat(ServeArgs.parse(List.of("positional"))).isNull();
  }

  @Test
  void aRepeatedListOptionReplacesTheInitialValueOnce() {
    ServeCommand command =
        ServeArgs.parse(List.of("--load-model", "a", "--load-model", "b", "--http-port=0"));

    assertThat(command).isNotNull();
    assertThat(command.loadModels).containsExactly("a", "b");
    assertThat(command.httpPort).isZero();
  }

  /** A value for f's type that no default has. */
  private static String distinct(Field f) {
    Class<?> type = f.getType();
    if (type == List.class) {
      return f.getGenericType().getTypeName().contains("Path") ? "/tmp/distinct" : "distinct";
    } else if (type == boolean.class || type == Boolean.class) {
      return Boolean.TRUE.equals(get(f, ServeArgs.parse(List.of()), true)) ? "false" : "true";
    } else if (type == int.class || type == long.class) {
      return "4242";
    } else if (type == double.class) {
      return "0.125";
    } else if (type.getSimpleName().equals("URI")) {
      return "http://127.0.0.1:9/distinct";
    } else if (type.getSimpleName().equals("Path")) {
      return "/tmp/distinct";
    }
    return "distinct";
  }

  /** What picocli stores for the option whose first name is first, given name=value. */
  private static @Nullable Object picocliValue(String name, String value, String first) {
    ServeCommand picocli = new ServeCommand();
    new CommandLine(picocli).parseArgs(name, value);
    return values(picocli).get(first);
  }

  private static void assertSameAsPicocli(List<String> args) {
    ServeCommand fast = ServeArgs.parse(args);
    ServeCommand picocli = new ServeCommand();
    new CommandLine(picocli).parseArgs(args.toArray(String[]::new));

    assertThat(fast).as("the fast path handles %s", args).isNotNull();
    assertThat(values(fast)).isEqualTo(values(picocli));
  }

  /** Every option field of the command and its mixins, by its first name. */
  private static Map<String, Field> options(Object command) {
    Map<String, Field> out = new LinkedHashMap<>();
    for (Field f : command.getClass().getDeclaredFields()) {
      Option option = f.getAnnotation(Option.class);
      if (option != null) {
        out.put(option.names()[0], f);
      } else if (f.isAnnotationPresent(Mixin.class)) {
        out.putAll(options(get(f, command)));
      }
    }
    return out;
  }

  private static Map<String, @Nullable Object> values(@Nullable Object command) {
    assertThat(command).isNotNull();
    Map<String, @Nullable Object> out = new LinkedHashMap<>();
    collectValues(command, out);
    return out;
  }

  private static void collectValues(Object target, Map<String, @Nullable Object> out) {
    for (Field f : target.getClass().getDeclaredFields()) {
      Option option = f.getAnnotation(Option.class);
      if (option != null) {
        out.put(option.names()[0], get(f, target));
      } else if (f.isAnnotationPresent(Mixin.class)) {
        collectValues(get(f, target), out);
      }
    }
  }

  /** f's value on the command or on the mixin that declares it. */
  private static @Nullable Object get(Field f, @Nullable ServeCommand command, boolean viaMixin) {
    assertThat(command).isNotNull();
    Object target = command;
    if (viaMixin && f.getDeclaringClass() != ServeCommand.class) {
      for (Field m : ServeCommand.class.getDeclaredFields()) {
        if (m.getType() == f.getDeclaringClass()) {
          target = get(m, command);
        }
      }
    }
    return get(f, target);
  }

  private static Object get(Field f, Object target) {
    try {
      f.setAccessible(true);
      return f.get(target);
    } catch (IllegalAccessException e) {
      throw new AssertionError(e);
    }
  }
}
