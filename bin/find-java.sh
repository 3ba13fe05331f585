# Sourced by ./fulcrum and .ci/run: sets JAVA_HOME to a JDK 21+ and puts it first on PATH;
# FULCRUM_JAVA_MAJOR is its major version.
# Order: $JAVA_HOME if it is 21+, then the newest JDK under /usr/lib/jvm (or macOS's
# /Library/Java/JavaVirtualMachines), then `java` on PATH if none of those is 21+.
#
# Cheap on every start (a few ms): a JDK's version is read from its `release` file (every JDK
# since 9 has one) with bash builtins and no subshell; only a JDK without one is asked by
# running it (~0.1-0.5 s each).

fulcrum_java_major() { # sets FULCRUM_JAVA_MAJOR to the major version of the JDK at $1, or ""
  local home=$1 line version=""
  FULCRUM_JAVA_MAJOR=""
  if [ -r "$home/release" ]; then
    while IFS= read -r line; do
      case $line in JAVA_VERSION=*) version=${line#JAVA_VERSION=}; version=${version//\"/}; break ;; esac
    done < "$home/release"
  else
    version=$("$home/bin/java" -XshowSettings:properties -version 2>&1 \
      | sed -n 's/^ *java\.specification\.version = \([0-9.]*\).*/\1/p' | head -1)
  fi
  version=${version#1.}          # 1.8.0_402 -> 8.0_402
  version=${version%%[!0-9]*}    # 25.0.3 -> 25, 21-ea -> 21
  FULCRUM_JAVA_MAJOR=$version
}

fulcrum_find_java() {
  local candidates=() c major java best="" best_major=0
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  for c in /usr/lib/jvm/*/ /Library/Java/JavaVirtualMachines/*/Contents/Home/; do
    [ -d "$c" ] && candidates+=("${c%/}")
  done
  for pass in 1 2; do
    if [ $pass = 2 ]; then
      # Nothing 21+ so far: the java on PATH.
      [ -z "$best" ] && java=$(command -v java 2>/dev/null) || break
      candidates=("$(dirname "$(dirname "$(readlink -f "$java")")")")
    fi
    for c in "${candidates[@]}"; do
      [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
      fulcrum_java_major "$c"
      major=$FULCRUM_JAVA_MAJOR
      [ -n "$major" ] || continue
      # An explicit JAVA_HOME that is new enough wins.
      if [ "$c" = "${JAVA_HOME:-}" ] && [ "$major" -ge 21 ]; then best="$c"; break 2; fi
      if [ "$major" -ge 21 ] && [ "$major" -gt "$best_major" ]; then best="$c"; best_major=$major; fi
    done
  done
  if [ -z "$best" ]; then
    echo "fulcrum: no JDK 21 or newer found (looked at \$JAVA_HOME, /usr/lib/jvm and the java on PATH)." >&2
    echo "fulcrum: install one, e.g. 'apt-get install openjdk-21-jdk-headless' or Temurin 25, or set JAVA_HOME." >&2
    return 1
  fi
  fulcrum_java_major "$best"
  export JAVA_HOME="$best"
  export PATH="$JAVA_HOME/bin:$PATH"
}
