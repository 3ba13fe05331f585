package dev.fulcrum.tools.monitor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link Csv} on the exports pandas, R and spreadsheets write, and on the broken ones. */
class CsvTest {
  @TempDir Path dir;

  /**
   * Excel's "CSV UTF-8" (a byte order mark), pandas' QUOTE_ALL header, CRLF, a quoted field with a
   * comma, a quote and a line break, blank lines: each column by its name, each row's line.
   */
  @Test
  void readsQuotedFieldsBomCrlfAndBlankLines() throws IOException {
    Path file =
        write(
            "\uFEFF\"n0\",\"note\", amount \r\n"
                + "1.5,\"Acme, Inc. said \"\"hi\"\"\",2\r\n"
                + "\r\n"
                + "2.5,\"two\r\nlines\",3\r\n"
                + "3.5,plain,4\r\n");
    try (Csv csv = Csv.open(file)) {
      assertThat(csv.header()).containsExactly("n0", "note", "amount");
      int n0 = csv.column("n0");
      int note = csv.column("note");
      List<String> rows = new ArrayList<>();
      while (csv.next()) {
        rows.add(csv.line() + ": " + csv.number(n0) + " " + csv.cell(note));
      }
      assertThat(rows)
          .containsExactly("2: 1.5 Acme, Inc. said \"hi\"", "4: 2.5 two\r\nlines", "6: 3.5 plain");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "  ", "NaN", "nan", "NA", "na", "N/A", "null", "NULL", "None"})
  void missingSpellingsAreNaN(String cell) throws IOException {
    try (Csv csv = Csv.open(write("id,a\nx," + cell + "\n"))) {
      assertThat(csv.next()).isTrue();
      assertThat(csv.number(1)).isNaN();
    }
  }

  @Test
  void booleansAreOneAndZero() throws IOException {
    try (Csv csv = Csv.open(write("a,b,c\ntrue,False,1e3\n"))) {
      assertThat(csv.next()).isTrue();
      assertThat(List.of(csv.number(0), csv.number(1), csv.number(2)))
          .containsExactly(1.0, 0.0, 1000.0);
    }
  }

  /** Only the cells asked for are parsed: a text column holds anything. */
  @Test
  void aCellIsRefusedOnlyWhenReadAsANumber() throws IOException {
    try (Csv csv = Csv.open(write("id,merchant,a\n7,acme,1\n8,bolt,x1\n"))) {
      assertThat(csv.next()).isTrue();
      assertThat(csv.number(2)).isEqualTo(1.0);
      assertThat(csv.next()).isTrue();
      assertThatThrownBy(() -> csv.number(2))
          .hasMessage("data.csv line 3, column a: 'x1' is not a number");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"Infinity", "-Infinity", "inf", "-inf", "+INF", "1e400"})
  void nonFiniteNumbersAreRefusedWithLineAndColumn(String cell) throws IOException {
    try (Csv csv = Csv.open(write("id,a\n1,2\n2," + cell + "\n"))) {
      assertThat(csv.next()).isTrue();
      assertThat(csv.next()).isTrue();
      assertThatThrownBy(() -> csv.number(1))
          .hasMessage("data.csv line 3, column a: '" + cell + "' is not a finite number");
    }
  }

  @Test
  void aDuplicateColumnIsRefusedWhenAskedFor() throws IOException {
    try (Csv csv = Csv.open(write("n0,id,n0,id2\n1,2,3,4\n"))) {
      assertThat(csv.column("id")).isEqualTo(1);
      assertThatThrownBy(() -> csv.column("n0"))
          .hasMessage("data.csv has two columns named 'n0' (columns 1 and 3): rename one");
    }
  }

  @Test
  void aMissingColumnListsTheColumnsAndHintsAtTheSeparator() throws IOException {
    try (Csv csv = Csv.open(write("a,b\n1,2\n"))) {
      assertThatThrownBy(() -> csv.column("c"))
          .hasMessage("data.csv has no column 'c' (its columns: [a, b])");
    }
    try (Csv csv = Csv.open(write("a;b\n1;2\n"))) {
      assertThatThrownBy(() -> csv.column("a"))
          .hasMessage(
              "data.csv has no column 'a' (its columns: [a;b]; one column: is the file"
                  + " comma-separated?)");
    }
  }

  @Test
  void emptyHeaderOnlyRaggedAndUnclosedQuotes() throws IOException {
    assertThatThrownBy(() -> Csv.open(write(""))).hasMessage("data.csv is empty");
    assertThatThrownBy(() -> Csv.open(write("\n\n"))).hasMessage("data.csv is empty");
    try (Csv csv = Csv.open(write("a,b\r\n"))) {
      assertThat(csv.next()).isFalse();
    }
    try (Csv csv = Csv.open(write("a,b\n1,2\n1,2,3\n"))) {
      assertThat(csv.next()).isTrue();
      assertThatThrownBy(csv::next).hasMessage("data.csv line 3: 3 cells, the header has 2");
    }
    try (Csv csv = Csv.open(write("a,b\n1,2\n3,\"open\n4,5\n"))) {
      assertThat(csv.next()).isTrue();
      assertThatThrownBy(csv::next)
          .hasMessageStartingWith("data.csv line ")
          .hasMessageContaining("quote")
          .hasMessageEndingWith("(in the row after line 2)")
          .message()
          .doesNotContain("\n");
    }
  }

  private Path write(String text) throws IOException {
    return Files.writeString(dir.resolve("data.csv"), text, StandardCharsets.UTF_8);
  }
}
