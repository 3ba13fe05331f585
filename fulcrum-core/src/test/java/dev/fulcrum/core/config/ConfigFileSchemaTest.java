package dev.fulcrum.core.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.fulcrum.core.config.ConfigFileSchema.Kind;
import dev.fulcrum.core.config.ConfigFileSchema.ListOf;
import dev.fulcrum.core.config.ConfigFileSchema.MapOf;
import dev.fulcrum.core.config.ConfigFileSchema.RecordOf;
import dev.fulcrum.core.config.ConfigFileSchema.Scalar;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The written-out schema is the records' own: names, kinds, and constructor argument order. */
class ConfigFileSchemaTest {

  /** Every record reachable from the root, each once. */
  private static List<RecordOf> records() {
    List<RecordOf> out = new ArrayList<>();
    List<Kind> todo = new ArrayList<>(List.of(ConfigFileSchema.MODEL_CONFIG));
    Set<Class<?>> seen = new HashSet<>();
    while (!todo.isEmpty()) {
      Kind k = todo.remove(0);
      if (k instanceof ListOf l) {
        todo.add(l.element());
      } else if (k instanceof MapOf m) {
        todo.add(m.value());
      } else if (k instanceof RecordOf r && seen.add(r.type())) {
        out.add(r);
        todo.addAll(r.kinds());
      }
    }
    return out;
  }

  @Test
  void everyRecordsFieldsAreItsComponentsWithTheirJsonNamesAndTypes() throws Exception {
    int checked = 0;
    Set<Class<?>> covered = new HashSet<>();
    for (RecordOf r : records()) {
      covered.add(r.type());
      RecordComponent[] rc = r.type().getRecordComponents();
      assertThat(r.fields()).as(r.type().getName()).hasSize(rc.length);
      assertThat(r.kinds()).as(r.type().getName()).hasSize(rc.length);
      Class<?>[] types = new Class<?>[rc.length];
      for (int i = 0; i < rc.length; i++) {
        types[i] = rc[i].getType();
      }
      java.lang.reflect.Parameter[] params = r.type().getDeclaredConstructor(types).getParameters();
      for (int i = 0; i < rc.length; i++) {
        String what = r.type().getName() + "." + rc[i].getName();
        JsonProperty p = params[i].getAnnotation(JsonProperty.class);
        assertThat(p).as(what).isNotNull();
        assertThat(r.fields().get(i)).as(what).isEqualTo(p.value());
        assertThat(describe(r.kinds().get(i))).as(what).isEqualTo(describe(rc[i].getGenericType()));
        checked++;
      }
    }
    assertThat(checked).isGreaterThan(60);
    // every nested record of ModelConfigFile is reachable from the root
    for (Class<?> nested : ModelConfigFile.class.getDeclaredClasses()) {
      if (nested.isRecord()) {
        assertThat(covered).as(nested.getName()).contains(nested);
      }
    }
  }

  @Test
  void everyRecordsConstructorTakesTheFieldsInComponentOrder() throws Exception {
    for (RecordOf r : records()) {
      RecordComponent[] rc = r.type().getRecordComponents();
      Object[] args = new Object[rc.length];
      for (int i = 0; i < rc.length; i++) {
        args[i] = sample(r.kinds().get(i), i);
      }
      Object made = r.make().apply(args);
      assertThat(made).isInstanceOf(r.type());
      for (int i = 0; i < rc.length; i++) {
        assertThat(rc[i].getAccessor().invoke(made))
            .as(r.type().getName() + "." + rc[i].getName())
            .isEqualTo(args[i]);
      }
      // absent fields are nulls
      Object empty = r.make().apply(new Object[rc.length]);
      for (RecordComponent c : rc) {
        assertThat(c.getAccessor().invoke(empty)).isNull();
      }
    }
  }

  /** A value of {@code kind} that tells component {@code i} from the others of its type. */
  private static Object sample(Kind kind, int i) {
    if (kind instanceof Scalar s) {
      return switch (s) {
        case STRING -> "s" + i;
        case INTEGER -> Integer.valueOf(100 + i);
        case LONG -> Long.valueOf(1000L + i);
        case DOUBLE -> Double.valueOf(0.5 + i);
        case BOOLEAN -> i % 2 == 0;
      };
    }
    if (kind instanceof ListOf l) {
      return List.of(sample(l.element(), i));
    }
    if (kind instanceof MapOf m) {
      return Map.of("k" + i, sample(m.value(), i));
    }
    RecordOf r = (RecordOf) kind;
    return r.make().apply(new Object[r.fields().size()]);
  }

  private static String describe(Kind kind) {
    if (kind instanceof Scalar s) {
      return switch (s) {
        case STRING -> "java.lang.String";
        case INTEGER -> "java.lang.Integer";
        case LONG -> "java.lang.Long";
        case DOUBLE -> "java.lang.Double";
        case BOOLEAN -> "java.lang.Boolean";
      };
    }
    if (kind instanceof ListOf l) {
      return "java.util.List<" + describe(l.element()) + ">";
    }
    if (kind instanceof MapOf m) {
      return "java.util.Map<java.lang.String, " + describe(m.value()) + ">";
    }
    return ((RecordOf) kind).type().getName();
  }

  private static String describe(Type type) {
    if (type instanceof ParameterizedType p) {
      List<String> args = new ArrayList<>();
      for (Type a : p.getActualTypeArguments()) {
        args.add(describe(a));
      }
      return ((Class<?>) p.getRawType()).getName() + "<" + String.join(", ", args) + ">";
    }
    return ((Class<?>) type).getName();
  }
}
