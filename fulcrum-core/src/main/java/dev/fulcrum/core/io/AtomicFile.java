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
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import java.util.UUID;

/**
 * Replaces a file whole or not at all: the content is written to a temporary file in the same
 * folder, synced to the disk, and renamed over the file, so that a reader (or a process stopped
 * midway, or a machine that loses power) finds the old file or the new one, never half of one.
 *
 * <p>What is synced: the temporary file's content and metadata ({@code fsync}) before the rename,
 * and the folder after it where the platform can (Linux), so that the rename itself survives a
 * crash. {@link Option#NO_SYNC} skips both, for a file its reader checks and can make again (a
 * cache entry of hundreds of MB, where waiting for the disk would lengthen a model's load).
 *
 * <p>The temporary file ({@code .NAME.<unique>.tmp}) is made new under a name of its own, never
 * through a link and never another writer's file, with the permissions any file the process writes
 * gets, or its owner's only with {@link Option#OWNER_ONLY}; it is deleted when anything fails.
 * Where the file system cannot rename atomically the rename falls back to a plain replacing move.
 *
 * <p>Thread-safety: stateless; two writers of the same file each rename a whole file, the last one
 * standing.
 */
public final class AtomicFile {
  /** The temporary file's name ends so. */
  public static final String TEMP_SUFFIX = ".tmp";

  /** The temporary file is made new, for writing, never through a link. */
  private static final Set<OpenOption> CREATE_NEW_NO_LINK =
      Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);

  private static final FileAttribute<Set<PosixFilePermission>> OWNER_READ_WRITE =
      PosixFilePermissions.asFileAttribute(
          EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));

  /** How a file is written, beyond the defaults. */
  public enum Option {
    /**
     * Readable and writable by its owner only (POSIX 0600), for a file others on the machine have
     * no business reading; where the file system has no POSIX permissions, the default ones.
     */
    OWNER_ONLY,
    /**
     * Neither the file nor its folder synced: after a crash the file may be the old one, the new
     * one, or a torn one, so only for a file whose reader checks it and can make it again.
     */
    NO_SYNC
  }

  /** Writes the content to the stream it is given; the stream need not be closed. */
  @FunctionalInterface
  public interface Content {
    void writeTo(OutputStream out) throws IOException;
  }

  private AtomicFile() {}

  /** Replaces {@code file} with {@code bytes}. */
  public static void replace(Path file, byte[] bytes, Option... options) throws IOException {
    replace(file, out -> out.write(bytes), options);
  }

  /** Replaces {@code file} with {@code text} in UTF-8. */
  public static void replace(Path file, String text, Option... options) throws IOException {
    replace(file, text.getBytes(StandardCharsets.UTF_8), options);
  }

  /** Replaces {@code file} with what {@code content} writes. */
  public static void replace(Path file, Content content, Option... options) throws IOException {
    Set<Option> chosen = options.length == 0 ? Set.of() : EnumSet.copyOf(Arrays.asList(options));
    boolean sync = !chosen.contains(Option.NO_SYNC);
    Path folder = file.toAbsolutePath().getParent();
    if (folder == null) {
      throw new IOException(file + ": no folder to write a temporary file in");
    }
    Path tmp = folder.resolve("." + file.getFileName() + "." + UUID.randomUUID() + TEMP_SUFFIX);
    FileAttribute<?>[] attributes =
        chosen.contains(Option.OWNER_ONLY)
                && tmp.getFileSystem().supportedFileAttributeViews().contains("posix")
            ? new FileAttribute<?>[] {OWNER_READ_WRITE}
            : new FileAttribute<?>[0];
    try {
      try (FileChannel c = FileChannel.open(tmp, CREATE_NEW_NO_LINK, attributes)) {
        OutputStream out = new Unclosed(Channels.newOutputStream(c));
        content.writeTo(out);
        out.flush();
        if (sync) {
          c.force(true);
        }
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
    if (sync) {
      syncFolder(folder);
    }
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
