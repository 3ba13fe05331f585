package dev.fulcrum.server.triton;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.TextFormat;
import com.google.protobuf.TextFormatParseInfoTree;
import com.google.protobuf.util.JsonFormat;
import dev.fulcrum.core.config.ConfigException;
import dev.fulcrum.core.config.ModelConfigFile;
import dev.fulcrum.core.config.ModelConfigFormat;
import dev.fulcrum.server.grpc.proto.ModelConfig;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Triton's {@code config.pbtxt}: protobuf text format against our statement of Triton's {@code
 * model_config.proto}, so any real Triton configuration parses. The fields Fulcrum supports are
 * mapped onto {@link ModelConfigFile} by {@link PbtxtConverter}; every other field that is set is
 * named in one warning line per model. Stateless and thread-safe.
 */
public final class PbtxtConfigFormat implements ModelConfigFormat {
  /** The file name Triton reads in a model folder. */
  public static final String FILE_NAME = "config.pbtxt";

  private static final Logger log = LoggerFactory.getLogger(PbtxtConfigFormat.class);

  @Override
  public String fileName() {
    return FILE_NAME;
  }

  @Override
  public ModelConfigFile parse(String text, Path file) throws ConfigException {
    TextFormatParseInfoTree.Builder tree = TextFormatParseInfoTree.builder();
    ModelConfig config = parseProto(text, file, tree);
    return warn(PbtxtConverter.convert(config, file, tree.build()), file);
  }

  /**
   * Triton's {@code ModelConfig} as JSON (protobuf's JSON mapping: {@code max_batch_size} or {@code
   * maxBatchSize}, enums by name, 64-bit integers as numbers or strings), as Triton's load API
   * takes it in {@code parameters.config}; null when the text does not parse as one.
   */
  @Override
  public @Nullable ModelConfigFile parseLoadConfig(String text, Path source)
      throws ConfigException {
    if (!text.strip().startsWith("{")) {
      return null;
    }
    ModelConfig.Builder b = ModelConfig.newBuilder();
    try {
      JsonFormat.parser().merge(text, b);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      return null; // not Triton's ModelConfig: config.yaml's error stands
    }
    return warn(PbtxtConverter.convert(b.build(), source), source);
  }

  private static ModelConfigFile warn(PbtxtConverter.Converted converted, Path file) {
    if (!converted.ignored().isEmpty()) {
      log.warn(
          "{}: Fulcrum does not support these fields and ignores them: {}",
          file,
          converted.describeIgnored());
    }
    return converted.config();
  }

  /** Parses the text into Triton's message; a syntax error names the line and column. */
  static ModelConfig parseProto(String text, Path file) throws ConfigException {
    return parseProto(text, file, null);
  }

  /** As {@link #parseProto(String, Path)}, recording where each field was written. */
  static ModelConfig parseProto(
      String text, Path file, TextFormatParseInfoTree.@Nullable Builder tree)
      throws ConfigException {
    ModelConfig.Builder b = ModelConfig.newBuilder();
    try {
      TextFormat.Parser.Builder parser = TextFormat.Parser.newBuilder();
      if (tree != null) {
        parser.setParseInfoTreeBuilder(tree);
      }
      parser.build().merge(text, b);
    } catch (TextFormat.ParseException e) {
      // One line: the parser lists unknown fields on lines of their own.
      String message =
          String.valueOf(e.getMessage()).replaceAll("\\s*\\n\\s*", " ").replace('\t', ' ');
      String prefix = e.getLine() + ":" + e.getColumn() + ": ";
      if (message.startsWith(prefix)) {
        message = message.substring(prefix.length());
      }
      message =
          message.replaceFirst(
              "^Input contains unknown fields and/or extensions: \\d+:\\d+: ", "unknown field ");
      throw new ConfigException(
          file, "", "line " + e.getLine() + ", column " + e.getColumn() + ": " + message, e);
    }
    return b.build();
  }
}
