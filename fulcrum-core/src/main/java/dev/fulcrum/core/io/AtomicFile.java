package dev.fulcrum.core.io;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

/**
 * Replaces a file whole or not at all: the content is written to a temporary file in the same
 * folder, synced to the disk, and renamed over the file, so that a reader (or a process stopped
 * midway, or a machine that loses power) finds the old file or the new one, never half of one.
 *
 * <p>The temporary file ({@code .NAME.<unique>.tmp}) is made new under a name of its own, never
 * through a link and never another writer's file, with the permissions any file the process writes
 * gets; it is deleted when anything fails. Where the file system cannot rename atomically the
 * rename falls back to a plain replacing move. The folder is synced after the rename where the
 * platform can (Linux), so that the rename itself survives a crash.
 *
 * <p>Thread-safety: stateless; two writers of the same file each rename a whole file, the last one
 * standing.
 */
public final class AtomicFile {
  /** The temporary file's name ends so. */
  public static final String TEMP_SUFFIX = ".tmp";

  /** Writes the content to the stream it is given; the stream need not be closed. */
  @FunctionalInterface
  public interface Content {
    void writeTo(OutputStream out) throws IOException;
  }

  private AtomicFile() {}

  /** Replaces {@code file} with {@code bytes}. */
  public static void replace(Path file, byte[] bytes) throws IOException {
    replace(file, out -> out.write(bytes));
  }

  /** Replaces {@code file} with {@code text} in UTF-8. */
  public static void replace(Path file, String text) throws IOException {
    replace(file, text.getBytes(StandardCharsets.UTF_8));
  }

  /** Replaces {@code file} with what {@code content} writes. */
  public static void replace(Path file, Content content) throws IOException {
    Path folder = file.toAbsolutePath().getParent();
    if (folder == null) {
      throw new IOException(file + ": no folder to write a temporary file in");
    }
    Path tmp = folder.resolve("." + file.getFileName() + "." + UUID.randomUUID() + TEMP_SUFFIX);
    try {
      try (FileChannel c =
          FileChannel.open(
              tmp,
              StandardOpenOption.CREATE_NEW,
              StandardOpenOption.WRITE,
              LinkOption.NOFOLLOW_LINKS)) {
        OutputStream out = new Unclosed(Channels.newOutputStream(c));
        content.writeTo(out);
        out.flush();
        c.force(true);
      }
      move(tmp, file);
    } catch (Throwable t) {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException e) {
        t.addSuppressed(e);
      }
      throw t;
    }
    syncFolder(folder);
  }

  private static void move(Path tmp, Path file) throws IOException {
    try {
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Makes the rename durable where the platform can sync a folder (Linux); else skipped. */
  private static void syncFolder(Path folder) {
    try (FileChannel d = FileChannel.open(folder, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException | UnsupportedOperationException e) {
      // not every platform opens or syncs a folder: the file was replaced all the same
    }
  }

  /** A stream the content may close (as Jackson does) without closing the channel under it. */
  private static final class Unclosed extends FilterOutputStream {
    Unclosed(OutputStream out) {
      super(out);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
    }

    @Override
    public void close() throws IOException {
      flush();
    }
  }
}
