package dev.fulcrum.core.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SortedSet;

/** Which of a model's version folders are served, as Triton's {@code version_policy}. */
public sealed interface VersionPolicy {

  /** Chooses the versions to serve from those present, newest first. */
  List<Long> select(SortedSet<Long> available);

  /** The newest {@code count} versions (Triton's default is one). */
  record Latest(int count) implements VersionPolicy {
    public Latest {
      if (count < 1) {
        throw new IllegalArgumentException("latest must be >= 1");
      }
    }

    @Override
    public List<Long> select(SortedSet<Long> available) {
      List<Long> out = new ArrayList<>(available.reversed());
      return List.copyOf(out.subList(0, Math.min(count, out.size())));
    }
  }

  /** Every version present. */
  record All() implements VersionPolicy {
    @Override
    public List<Long> select(SortedSet<Long> available) {
      return List.copyOf(available.reversed());
    }
  }

  /** Exactly the versions listed (those present). */
  record Specific(Set<Long> versions) implements VersionPolicy {
    public Specific {
      versions = Set.copyOf(versions);
    }

    @Override
    public List<Long> select(SortedSet<Long> available) {
      return available.reversed().stream().filter(versions::contains).toList();
    }
  }
}
