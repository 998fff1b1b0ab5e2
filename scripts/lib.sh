# What scripts/galaxy, scripts/toolshed and scripts/pulsar share: each starts its server in a
# session of its own (setsid), keeps that session's id in a pid file, and stops the session as
# a whole, so that no process outlives `stop`. Sourced, after the script has set REPO,
# GALAXY_VENV and its own die().
# shellcheck shell=bash

# scripts/galaxy_api.py, run by Galaxy's venv (it has requests and bioblend).
helper() { "$GALAXY_VENV/bin/python" "$REPO/scripts/galaxy_api.py" "$@"; }

new_secret() { "$GALAXY_VENV/bin/python" -c 'import secrets; print(secrets.token_hex(16))'; }

# server_session PID_FILE PREFIX...: prints the session id kept in PID_FILE if that session
# still runs our server, else nothing. A stale pid file (the id reused by another session after
# a reboot) must not make us kill others' processes: a process of the session must run a
# program (or a script, as the interpreter's first argument) below one of PREFIXes (the
# server's venv; Galaxy's job folders), and the session must not be this script's own.
server_session() {
    local pid_file=$1 sid own_sid prefixes
    shift
    [[ -f $pid_file ]] || return 0
    sid=$(<"$pid_file")
    own_sid=$(ps -o sid= -p $$ | tr -d ' ')
    [[ $sid != "$own_sid" ]] || return 0
    prefixes=$(printf '%s\n' "$@")
    if ps -e -o sid=,args= | awk -v sid="$sid" -v prefixes="$prefixes" '
        BEGIN { n = split(prefixes, prefix, "\n") }
        $1 == sid { for (i = 1; i <= n; i++) if (index($2, prefix[i]) == 1 || index($3, prefix[i]) == 1) found = 1 }
        END { exit !found }'; then
        echo "$sid"
    fi
}

# session_pids SID: the ids of the live processes (zombies aside) of session SID.
session_pids() {
    ps -e -o pid=,sid=,stat= | awk -v sid="$1" '$2 == sid && $3 !~ /^Z/ { print $1 }'
}

# stop_session NAME SID: SIGTERM to every process of session SID, SIGKILL to those left after
# 30 s; dies if any is still there.
stop_session() {
    local name=$1 sid=$2 pids waited=0
    pids=$(session_pids "$sid")
    echo "Stopping $name (processes: ${pids//$'\n'/ })"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    while [[ -n "$(session_pids "$sid")" ]] && ((waited < 30)); do
        sleep 1
        waited=$((waited + 1))
    done
    pids=$(session_pids "$sid")
    if [[ -n $pids ]]; then
        echo "Still running after ${waited} s, killing: ${pids//$'\n'/ }"
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
        sleep 1
    fi
    pids=$(session_pids "$sid")
    [[ -z $pids ]] || die "processes left behind: ${pids//$'\n'/ }"
}

# free_port FIRST LAST [PORT]: PORT when given (it must be free), else the first free port of
# FIRST..LAST, on 127.0.0.1.
free_port() {
    local first=$1 last=$2 port=${3:-}
    if [[ -n $port ]]; then
        helper port-free "$port" || die "port $port on 127.0.0.1 is in use"
        echo "$port"
        return 0
    fi
    for ((port = first; port <= last; port++)); do
        if helper port-free "$port"; then
            echo "$port"
            return 0
        fi
    done
    die "no free port in $first-$last"
}
