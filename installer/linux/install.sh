#!/usr/bin/env bash
# Install and configure the v4l2loopback virtual camera ("Lipstick Cam") and, optionally, start at login.
# Run with --help for usage. Passes shellcheck (tests/test_platform.py runs it).
set -euo pipefail

LABEL="Lipstick Cam"
NR=10
# Where the configuration and the devices live. VCAM_LIPSTICK_INSTALL_ROOT prefixes them all (like
# DESTDIR), so the tests never touch the real /etc or /sys.
ROOT=${VCAM_LIPSTICK_INSTALL_ROOT:-}
MODPROBE_D=$ROOT/etc/modprobe.d
MODULES_LOAD_D=$ROOT/etc/modules-load.d
SYSFS_V4L=$ROOT/sys/class/video4linux
SYS_MODULE=$ROOT/sys/module/v4l2loopback
DEVICE_WAIT_TRIES=10 # udev may take a moment to create the device after modprobe
OUR_CONF=vcam-lipstick.conf
ALREADY_CONFIGURED=0

usage() {
    cat <<EOF
Usage: install.sh [--autostart [PROGRAM] | --help]

  sudo install.sh
      Install the v4l2loopback driver and load the virtual camera "$LABEL" now and at every boot.
  install.sh --autostart [PROGRAM]
      Start vcam-lipstick when you log in; under sudo, for the user who ran sudo. PROGRAM defaults to
      vcam-lipstick on PATH, then \$VIRTUAL_ENV/bin/vcam-lipstick, ~/.local/bin/vcam-lipstick, then
      python3 -m vcam_lipstick where that python3 has it (a venv's python3 works unactivated).
  install.sh --help
      Print this and change nothing.

The driver install:
  - Debian/Ubuntu: apt-get update, then v4l2loopback-dkms, v4l2loopback-utils and the headers for the
    running kernel ($(uname -r)); DKMS builds the module for it.
  - Fedora: akmod-v4l2loopback comes from RPM Fusion (free), which must be enabled first. akmods builds
    the module in the background after install; this script runs it now and waits.
  - Arch: v4l2loopback-dkms and the headers package of your kernel.
  - Secure Boot: the kernel loads only signed modules. DKMS (Debian/Ubuntu) and akmods (Fedora) sign
    with a machine owner key (MOK) that you enroll once: set a password when asked, reboot, choose
    "Enroll MOK". Without it, loading fails with "Key was rejected by service".
  - An existing v4l2loopback configuration (for example your own for OBS) is never overwritten: the
    script stops and shows how to add "$LABEL" to it.
  - It says "ready" only once a video device named "$LABEL" exists.
EOF
}

say() { printf '%s\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; return 1; }

# --- start at login ---------------------------------------------------------------------------------

# One Exec argument per the Desktop Entry Specification: always quoted, with \ " ` $ escaped inside the
# quotes and % doubled (field codes).
desktop_exec_arg() {
    local a=${1//%/%%}
    a=${a//\\/\\\\}
    a=${a//\"/\\\"}
    a=${a//\`/\\\`}
    a=${a//\$/\\\$}
    printf '"%s"' "$a"
}

# A desktop-entry string value: backslash, newline, tab and carriage return are escaped.
desktop_string() {
    local s=${1//\\/\\\\}
    s=${s//$'\n'/\\n}
    s=${s//$'\t'/\\t}
    s=${s//$'\r'/\\r}
    printf '%s' "$s"
}

absolute() {
    case $1 in
        /*) printf '%s' "$1" ;;
        *) printf '%s/%s' "$PWD" "$1" ;;
    esac
}

# The command that starts the app, one argument per line. $1: the program given, if any; $2: the home
# folder of the user the entry is for.
find_launcher() {
    local program=$1 home=$2 found
    if [[ -n $program ]]; then
        [[ -x $program && ! -d $program ]] || fail "$program is not an executable file" || return
        absolute "$program"
        printf '\n'
    elif found=$(command -v vcam-lipstick); then
        absolute "$found"
        printf '\n'
    elif [[ -n ${VIRTUAL_ENV:-} && -x $VIRTUAL_ENV/bin/vcam-lipstick ]]; then
        printf '%s\n' "$VIRTUAL_ENV/bin/vcam-lipstick"
    elif [[ -x $home/.local/bin/vcam-lipstick ]]; then # pip install --user, pipx
        printf '%s\n' "$home/.local/bin/vcam-lipstick"
    elif found=$(command -v python3) && "$found" -c 'import vcam_lipstick' 2>/dev/null; then
        # The interpreter's own path: a venv's python runs the app without the venv being activated.
        printf '%s\n-m\nvcam_lipstick\n' "$(absolute "$found")"
    else
        fail "cannot find vcam-lipstick: pass its path, e.g. $0 --autostart ~/venvs/lipstick/bin/vcam-lipstick"
    fi
}

install_autostart() {
    local program=${1:-} user="" home=$HOME config launcher exec_line="" arg entry
    if [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
        # Under sudo $HOME is root's: the entry is for the user who ran sudo, in their home, owned by them.
        user=$SUDO_USER
        home=$(getent passwd "$user" | cut -d: -f6) || true
        [[ -n $home ]] || fail "cannot find the home folder of $user" || return
        config=$home/.config
    else
        config=${XDG_CONFIG_HOME:-$HOME/.config}
    fi
    launcher=$(find_launcher "$program" "$home") || return
    while IFS= read -r arg; do
        exec_line+="${exec_line:+ }$(desktop_exec_arg "$arg")"
    done <<<"$launcher"
    entry=$(
        printf '[Desktop Entry]\nType=Application\nName=Lipstick Cam\nComment=Lipstick on your webcam\n'
        printf 'TryExec=%s\nExec=%s\n' "$(desktop_string "$(head -n 1 <<<"$launcher")")" "$(desktop_string "$exec_line")"
        printf 'Icon=camera-web\nTerminal=false\nX-GNOME-Autostart-enabled=true\n'
    )
    local dir=$config/autostart
    # shellcheck disable=SC2016  # $1 is expanded by the inner sh: the folder is its argument
    local write='mkdir -p "$1" && cat >"$1/vcam-lipstick.desktop.tmp" && mv -f "$1/vcam-lipstick.desktop.tmp" "$1/vcam-lipstick.desktop"'
    if [[ -n $user ]]; then
        sudo -u "$user" -- sh -c "$write" sh "$dir" <<<"$entry"
    else
        sh -c "$write" sh "$dir" <<<"$entry"
    fi
    say "autostart entry: $dir/vcam-lipstick.desktop"
}

# --- the driver -------------------------------------------------------------------------------------

# Decide before installing anything whether we may write our configuration. Another program's
# v4l2loopback options (OBS's, your own) are kept: modprobe would apply only one set, so we stop.
check_existing_config() {
    local file line
    shopt -s nullglob
    for file in "$MODPROBE_D"/*.conf; do
        while IFS= read -r line; do
            [[ $line =~ ^[[:space:]]*options[[:space:]]+v4l2loopback([[:space:]]|$) ]] || continue
            if [[ $line == *"$LABEL"* ]]; then
                ALREADY_CONFIGURED=1
                continue
            fi
            shopt -u nullglob
            fail "$file already sets v4l2loopback options, which this script will not overwrite:
    $line
Add \"$LABEL\" as one more device on that line, then run this script again. Each list gets one more
entry: devices=<n+1> video_nr=<yours>,$NR card_label=<yours>,\"$LABEL\" exclusive_caps=<yours>,1"
            return
        done <"$file"
    done
    shopt -u nullglob
}

# Prints /dev/videoN for the device named "Lipstick Cam"; status 1 when there is none.
find_device() {
    local name dev
    shopt -s nullglob
    for name in "$SYSFS_V4L"/video*/name; do
        if [[ $(<"$name") == "$LABEL" ]]; then
            dev=$(basename "$(dirname "$name")")
            shopt -u nullglob
            printf '/dev/%s\n' "$dev"
            return 0
        fi
    done
    shopt -u nullglob
    return 1
}

secure_boot_on() {
    command -v mokutil >/dev/null && mokutil --sb-state 2>/dev/null | grep -qi 'SecureBoot enabled'
}

install_packages() {
    local kernel
    kernel=$(uname -r)
    if command -v apt-get >/dev/null; then
        # (errexit is off in a function called from a condition, hence the explicit returns)
        apt-get update || return
        local headers="linux-headers-$kernel"
        if apt-cache show "$headers" >/dev/null 2>&1; then
            apt-get install -y v4l2loopback-dkms v4l2loopback-utils "$headers" || return
        else
            say "note: no package $headers; DKMS builds the module only for kernels whose headers are installed"
            say "      (Debian: linux-headers-amd64 or similar, then reboot into that kernel)"
            apt-get install -y v4l2loopback-dkms v4l2loopback-utils || return
        fi
    elif command -v dnf >/dev/null; then
        if ! dnf repolist --enabled 2>/dev/null | grep -qi rpmfusion-free; then
            fail "Fedora: akmod-v4l2loopback is in RPM Fusion (free), which is not enabled. Enable it with
    sudo dnf install https://mirrors.rpmfusion.org/free/fedora/rpmfusion-free-release-\$(rpm -E %fedora).noarch.rpm
then run this script again."
            return
        fi
        dnf install -y akmod-v4l2loopback v4l2loopback "kernel-devel-$kernel" || return
        say "building the module with akmods (it would otherwise build in the background)..."
        akmods --force --kernels "$kernel" || fail "akmods could not build v4l2loopback for kernel $kernel" || return
    elif command -v pacman >/dev/null; then
        local headers=linux-headers
        case $kernel in
            *-lts) headers=linux-lts-headers ;;
            *-zen*) headers=linux-zen-headers ;;
            *-hardened*) headers=linux-hardened-headers ;;
        esac
        pacman -S --needed --noconfirm v4l2loopback-dkms "$headers" || return
    else
        fail "install the v4l2loopback kernel module with your package manager, then run this script again"
    fi
}

load_module() {
    if [[ -d $SYS_MODULE ]] && ! find_device >/dev/null; then
        # Loaded with other options (another program's devices): reload with ours, if nothing uses it.
        if ! modprobe -r v4l2loopback 2>/dev/null; then
            fail "v4l2loopback is loaded without \"$LABEL\" and in use (OBS?). Close the programs using
its cameras and run this script again, or reboot."
            return
        fi
    fi
    find_device >/dev/null && return 0
    local err
    if ! err=$(modprobe v4l2loopback devices=1 "video_nr=$NR" "card_label=$LABEL" exclusive_caps=1 2>&1); then
        printf '%s\n' "$err" >&2
        if [[ $err == *"Key was rejected"* || $err == *"Required key not available"* ]] || secure_boot_on; then
            fail "Secure Boot refused the unsigned module: enroll the DKMS/akmods signing key (mokutil --import, reboot, \"Enroll MOK\") and run this script again"
        else
            fail "modprobe v4l2loopback failed (are the headers for kernel $(uname -r) installed?)"
        fi
        return
    fi
}

wait_for_device() {
    local i dev
    for ((i = 1; i <= DEVICE_WAIT_TRIES; i++)); do
        if dev=$(find_device); then
            printf '%s\n' "$dev"
            return 0
        fi
        if ((i < DEVICE_WAIT_TRIES)); then sleep 0.5; fi
    done
    return 1
}

is_root() { [[ $EUID -eq 0 ]]; }

install_driver() {
    is_root || fail "run as root (sudo) to install the driver; see --help" || return
    check_existing_config || return
    if secure_boot_on; then
        say "note: Secure Boot is on; the module must be signed with an enrolled key (see --help)"
    fi
    install_packages || return
    load_module || return
    local dev
    dev=$(wait_for_device) || fail "the module loaded but no device named \"$LABEL\" appeared (see: dmesg | tail)" || return
    if [[ $ALREADY_CONFIGURED -eq 0 ]]; then
        mkdir -p "$MODULES_LOAD_D" "$MODPROBE_D"
        printf 'v4l2loopback\n' >"$MODULES_LOAD_D/$OUR_CONF"
        printf 'options v4l2loopback devices=1 video_nr=%s card_label="%s" exclusive_caps=1\n' "$NR" "$LABEL" \
            >"$MODPROBE_D/$OUR_CONF"
    fi
    say "virtual camera ready: $dev ($LABEL); loaded at every boot"
}

main() {
    case ${1:-} in
        -h | --help) usage ;;
        --autostart) install_autostart "${2:-}" ;;
        "") install_driver ;;
        *)
            usage >&2
            fail "unknown option: $1" || return 2
            ;;
    esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
