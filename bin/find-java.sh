# Sourced by ./fulcrum and .ci/run: sets JAVA_HOME to a JDK 21+ and puts it first on PATH.
# Order: $JAVA_HOME if it is 21+, then the newest JDK under /usr/lib/jvm, then `java` on PATH.

fulcrum_java_major() { # prints the major version of the java binary $1, or nothing
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -1
}

fulcrum_find_java() {
  local candidates=() c major
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if [ -d /usr/lib/jvm ]; then
    # newest first: temurin-25, java-21-openjdk, ...
    while IFS= read -r c; do candidates+=("$c"); done < <(ls -d /usr/lib/jvm/*/ 2>/dev/null | sed 's#/$##' | sort -t- -k2 -V -r)
  fi
  if [ -d /Library/Java/JavaVirtualMachines ]; then
    while IFS= read -r c; do candidates+=("$c/Contents/Home"); done < <(ls -d /Library/Java/JavaVirtualMachines/*/ 2>/dev/null | sed 's#/$##' | sort -r)
  fi
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  local best="" best_major=0
  for c in "${candidates[@]}"; do
    [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    major=$(fulcrum_java_major "$c/bin/java")
    [ -n "$major" ] || continue
    if [ "$major" -ge 21 ] && [ "$major" -gt "$best_major" ]; then best="$c"; best_major=$major; fi
    # An explicit JAVA_HOME that is new enough wins.
    if [ "$c" = "${JAVA_HOME:-}" ] && [ "$major" -ge 21 ]; then best="$c"; break; fi
  done
  if [ -z "$best" ]; then
    echo "fulcrum: no JDK 21 or newer found (looked at \$JAVA_HOME, /usr/lib/jvm and the java on PATH)." >&2
    echo "fulcrum: install one, e.g. 'apt-get install openjdk-21-jdk-headless' or Temurin 25, or set JAVA_HOME." >&2
    return 1
  fi
  export JAVA_HOME="$best"
  export PATH="$JAVA_HOME/bin:$PATH"
}
