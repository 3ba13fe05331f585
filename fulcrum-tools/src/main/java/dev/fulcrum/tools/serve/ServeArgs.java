package dev.fulcrum.tools.serve;

import java.lang.annotation.Annotation;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The cold-start path of {@code fulcrum serve}: reads its options without building picocli's
 * command tree, which loads and introspects every subcommand and ~175 picocli classes that the
 * JDK's AOT cache cannot hold (their Java 5 bytecode), all on the critical path of the first answer
 * (docs/PERFORMANCE.md, "Cold start").
 *
 * <p>The options are still declared once, by picocli's {@code @Option} and {@code @Mixin}
 * annotations on {@link ServeCommand} and its mixins; this reads those annotations and handles the
 * common shapes only ({@code --name value}, {@code --name=value}, boolean flags, repeatable list
 * options; strings, numbers, booleans, paths and URIs). Anything else (help, version, an unknown or
 * malformed option, a value that does not convert) makes {@link #parse} answer null, and the caller
 * hands the whole command line to picocli, which parses or reports it as before.
 *
 * <p>Thread-safety: stateless; called once, on the main thread.
 */
public final class ServeArgs {
  /** picocli's marker for "no defaultValue" (CommandLine.Option's default). */
  private static final String NO_DEFAULT = "__no_default_value__";

  private ServeArgs() {}

  /**
   * A {@link ServeCommand} with {@code args} (what follows {@code serve}) applied, or null when the
   * command line needs picocli (help, an error, a shape this does not handle).
   */
  public static @Nullable ServeCommand parse(List<String> args) {
    ServeCommand command = new ServeCommand();
    Map<String, Binding> options = new HashMap<>();
    List<Binding> bindings = new ArrayList<>();
    try {
      if (!collect(command, options, bindings, true)) {
        return null;
      }
      for (Binding b : bindings) {
        String defaultValue = b.option.defaultValue();
        if (!defaultValue.equals(NO_DEFAULT) && !b.set(defaultValue)) {
          return null;
        }
      }
      Map<Binding, Boolean> seen = new HashMap<>();
      for (int i = 0; i < args.size(); i++) {
        String arg = args.get(i);
        if (!arg.startsWith("--")) {
          return null;
        }
        int eq = arg.indexOf('=');
        Binding b = options.get(eq < 0 ? arg : arg.substring(0, eq));
        if (b == null) {
          return null;
        }
        String value;
        if (eq >= 0) {
          value = arg.substring(eq + 1);
        } else if (b.isFlag()) {
          value = "true";
        } else if (i + 1 < args.size()) {
          value = args.get(++i);
        } else {
          return null;
        }
        if (b.isList() && seen.put(b, true) == null) {
          b.field.set(b.target, new ArrayList<>());
        }
        if (!b.set(value)) {
          return null;
        }
      }
    } catch (IllegalAccessException e) {
      return null;
    }
    return command;
  }

  /**
   * Runs a parsed command as picocli's {@code execute} would: the exit code, 2 after a usage error
   * (message on stderr), 1 after any other failure (stack trace on stderr).
   */
  public static int run(ServeCommand command) {
    try {
      return command.call();
    } catch (picocli.CommandLine.ParameterException e) {
      System.err.println(e.getMessage());
      System.err.println("Run 'fulcrum serve --help' for its options.");
      return 2;
    } catch (Exception e) {
      e.printStackTrace();
      return 1;
    }
  }

  /** Adds target's options, and its mixins' (one level); false for a shape this cannot handle. */
  private static boolean collect(
      Object target, Map<String, Binding> options, List<Binding> bindings, boolean mixins)
      throws IllegalAccessException {
    for (Field field : target.getClass().getDeclaredFields()) {
      Option option = field.getAnnotation(Option.class);
      if (option != null) {
        if (option.defaultValue().contains("${") || !option.split().isEmpty()) {
          return false;
        }
        field.setAccessible(true);
        Binding binding = new Binding(target, field, option);
        bindings.add(binding);
        for (String name : option.names()) {
          if (!name.startsWith("--")) {
            continue; // a short alias: picocli handles command lines that use one
          }
          options.put(name, binding);
        }
      } else if (field.isAnnotationPresent(Mixin.class)) {
        field.setAccessible(true);
        Object mixin = field.get(target);
        if (!mixins || mixin == null || !collect(mixin, options, bindings, false)) {
          return false;
        }
      } else if (hasPicocliAnnotation(field.getAnnotations())) {
        return false; // positional parameters, groups, injected specs: picocli's
      }
    }
    for (Method method : target.getClass().getDeclaredMethods()) {
      if (hasPicocliAnnotation(method.getAnnotations())) {
        return false; // an option on a setter: picocli's
      }
    }
    return true;
  }

  private static boolean hasPicocliAnnotation(Annotation[] annotations) {
    for (Annotation a : annotations) {
      if (a.annotationType().getName().startsWith("picocli.")) {
        return true;
      }
    }
    return false;
  }

  /** One option: the field it sets on its target (the command or a mixin). */
  private record Binding(Object target, Field field, Option option) {
    boolean isList() {
      return field.getType() == List.class;
    }

    boolean isFlag() {
      return (field.getType() == boolean.class || field.getType() == Boolean.class)
          && option.arity().isEmpty();
    }

    /** Converts and stores value (appends it to a list); false when it does not convert. */
    @SuppressWarnings("unchecked")
    boolean set(String value) throws IllegalAccessException {
      if (isList()) {
        Type type = field.getGenericType();
        if (!(type instanceof ParameterizedType p)
            || !(p.getActualTypeArguments()[0] instanceof Class<?> element)) {
          return false;
        }
        Object converted = convert(element, value);
        if (converted == null) {
          return false;
        }
        List<Object> list = (List<Object>) field.get(target);
        if (list == null) {
          list = new ArrayList<>();
          field.set(target, list);
        }
        list.add(converted);
        return true;
      }
      Object converted = convert(field.getType(), value);
      if (converted == null) {
        return false;
      }
      field.set(target, converted);
      return true;
    }
  }

  /** value as type, or null when this does not convert it (picocli then reports the error). */
  static @Nullable Object convert(Class<?> type, String value) {
    try {
      if (type == String.class) {
        return value;
      } else if (type == int.class || type == Integer.class) {
        return Integer.valueOf(value);
      } else if (type == long.class || type == Long.class) {
        return Long.valueOf(value);
      } else if (type == double.class || type == Double.class) {
        return Double.valueOf(value);
      } else if (type == boolean.class || type == Boolean.class) {
        String v = value.toLowerCase(Locale.ROOT);
        return v.equals("true") ? Boolean.TRUE : v.equals("false") ? Boolean.FALSE : null;
      } else if (type == Path.class) {
        return Path.of(value);
      } else if (type == URI.class) {
        return new URI(value);
      }
    } catch (NumberFormatException | InvalidPathException | URISyntaxException e) {
      return null;
    }
    return null;
  }
}
