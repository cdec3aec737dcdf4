"""security.py (capabilities, security_opt) and seccomp.py (the default profile, loading)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reconciler.drivers.native.container import seccomp, security
from reconciler.drivers.native.container.security import SecurityOptionError, SecurityOptions

# --- capabilities --------------------------------------------------------------------------


def test_defaults_are_dockers_fourteen() -> None:
    caps = security.effective_capabilities((), ())
    assert caps == sorted(security.DEFAULT_CAPABILITIES)
    assert len(caps) == 14 and "CAP_SYS_ADMIN" not in caps


@pytest.mark.parametrize(
    "add, drop, expected",
    [
        (("NET_BIND_SERVICE",), ("ALL",), ["CAP_NET_BIND_SERVICE"]),
        ((), ("ALL",), []),
        (("cap_net_admin",), (), sorted([*security.DEFAULT_CAPABILITIES, "CAP_NET_ADMIN"])),
        ((), ("chown", "CAP_KILL"), sorted(set(security.DEFAULT_CAPABILITIES) - {"CAP_CHOWN",
                                                                            "CAP_KILL"})),
        (("CHOWN",), ("CHOWN",), sorted(security.DEFAULT_CAPABILITIES)),  # add wins a tie
    ],
)  # fmt: skip
def test_capability_arithmetic(
    add: tuple[str, ...], drop: tuple[str, ...], expected: list[str]
) -> None:
    assert security.effective_capabilities(add, drop) == expected


def test_add_all_minus_drop() -> None:
    caps = security.effective_capabilities(("ALL",), ("SYS_ADMIN",))
    assert len(caps) == len(security.ALL_CAPABILITIES) - 1
    assert "CAP_SYS_ADMIN" not in caps and "CAP_SYS_MODULE" in caps


@pytest.mark.parametrize("name", ["NET_FLY", "CAP_", "", "SYS ADMIN"])
def test_unknown_capability_is_refused(name: str) -> None:
    with pytest.raises(SecurityOptionError, match="unknown capability"):
        security.effective_capabilities((name,), ())


# --- security_opt --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, expected",
    [
        ((), SecurityOptions("default", True)),
        (("seccomp=unconfined",), SecurityOptions("unconfined", True)),
        (("seccomp:unconfined",), SecurityOptions("unconfined", True)),
        (("seccomp=/etc/p.json",), SecurityOptions("/etc/p.json", True)),
        (("no-new-privileges=false",), SecurityOptions("default", False)),
        (("no-new-privileges:false",), SecurityOptions("default", False)),
        (("no-new-privileges",), SecurityOptions("default", True)),
        (("no-new-privileges=true",), SecurityOptions("default", True)),
    ],
)
def test_security_opt_parsing(options: tuple[str, ...], expected: SecurityOptions) -> None:
    assert security.parse_security_opt(options) == expected


@pytest.mark.parametrize(
    "option, message",
    [
        ("apparmor=unconfined", "unsupported security_opt"),
        ("label=disable", "unsupported security_opt"),
        ("seccomp=", "expected seccomp=unconfined"),
        ("seccomp=profile.json", "must be absolute"),
        ("no-new-privileges=maybe", "expected true or false"),
    ],
)
def test_bad_security_opt_is_refused(option: str, message: str) -> None:
    with pytest.raises(SecurityOptionError, match=message):
        security.parse_security_opt((option,))


# --- the default seccomp profile ----------------------------------------------------------


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


MUST_NOT_ALLOW = _names(
    """
kexec_load kexec_file_load init_module finit_module delete_module open_by_handle_at bpf
keyctl add_key request_key reboot swapon swapoff mount umount umount2 pivot_root ptrace
unshare setns perf_event_open userfaultfd acct lookup_dcookie quotactl settimeofday
clock_settime clock_adjtime adjtimex syslog uselib vm86 vm86old nfsservctl iopl ioperm
create_module get_kernel_syms query_module sysfs _sysctl mbind set_mempolicy get_mempolicy
move_pages sethostname setdomainname process_vm_readv process_vm_writev kcmp io_uring_setup
fsopen fsmount move_mount open_tree
"""
)

MUST_ALLOW = _names(
    """
read write openat close fstat newfstatat statx mmap mprotect munmap brk rt_sigaction
rt_sigprocmask rt_sigreturn ioctl pread64 writev access faccessat2 pipe2 select pselect6
poll ppoll epoll_create1 epoll_ctl epoll_wait epoll_pwait dup dup2 dup3 nanosleep
clock_nanosleep getpid getppid gettid socket connect accept accept4 bind listen sendto
recvfrom setsockopt getsockopt clone fork vfork execve execveat exit exit_group wait4 waitid
kill tgkill uname fcntl flock fsync getdents64 getcwd chdir rename renameat renameat2 mkdir
mkdirat unlink unlinkat symlink symlinkat readlink readlinkat chmod fchmod fchmodat chown
fchown fchownat umask gettimeofday clock_gettime getrlimit prlimit64 setrlimit sysinfo times
getuid geteuid setuid setgid setgroups capget capset prctl arch_prctl set_tid_address
set_robust_list rseq futex sched_yield sched_getaffinity getrandom memfd_create madvise
mremap eventfd2 timerfd_create timerfd_settime signalfd4 inotify_init1 inotify_add_watch
sendfile splice copy_file_range fallocate ftruncate statfs fstatfs utimensat mknodat sync
personality restart_syscall sigaltstack
"""
)


def test_default_profile_is_structurally_valid() -> None:
    profile = seccomp.default_profile()
    assert seccomp.profile_problems(profile) == []
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert profile["defaultErrnoRet"] == 1
    assert profile["architectures"] == [seccomp.NATIVE_ARCH[os.uname().machine]]


def test_default_profile_keeps_only_the_native_abi() -> None:
    assert seccomp.default_profile("x86_64")["architectures"] == ["SCMP_ARCH_X86_64"]
    assert seccomp.default_profile("aarch64")["architectures"] == ["SCMP_ARCH_AARCH64"]
    every = seccomp.default_profile("riscv64")["architectures"]  # unknown: the file's list
    assert set(every) >= {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"}


def test_default_profile_denies_the_dangerous_syscalls() -> None:
    allowed = seccomp.allowed_syscalls(seccomp.default_profile())
    assert sorted(set(MUST_NOT_ALLOW) & allowed) == []


def test_default_profile_allows_what_shells_and_libc_need() -> None:
    allowed = seccomp.allowed_syscalls(seccomp.default_profile())
    assert sorted(set(MUST_ALLOW) - allowed) == []


def _rules_for(name: str) -> list[dict[str, object]]:
    return [r for r in seccomp.default_profile()["syscalls"] if name in r["names"]]


def test_clone_is_allowed_only_without_namespace_flags() -> None:
    (rule,) = _rules_for("clone")
    (arg,) = rule["args"]  # type: ignore[misc]
    assert arg["op"] == "SCMP_CMP_MASKED_EQ" and arg.get("valueTwo", 0) == 0
    newuser, newns, newnet = 0x10000000, 0x00020000, 0x40000000
    assert arg["value"] & newuser and arg["value"] & newns and arg["value"] & newnet
    assert not arg["value"] & 0x00000100  # CLONE_VM: threads must still work


def test_clone3_answers_enosys_so_libc_falls_back_to_clone() -> None:
    (rule,) = _rules_for("clone3")
    assert rule["action"] == "SCMP_ACT_ERRNO" and rule["errnoRet"] == 38


def test_every_syscall_name_appears_once() -> None:
    names = [n for r in seccomp.default_profile()["syscalls"] for n in r["names"]]
    assert len(names) == len(set(names))


def test_default_profile_copies_are_independent() -> None:
    first = seccomp.default_profile()
    first["syscalls"].clear()
    assert seccomp.default_profile()["syscalls"]


# --- profile_for and user profiles ---------------------------------------------------------


def test_profile_for_default_unconfined_and_path(tmp_path: Path) -> None:
    assert seccomp.profile_for(SecurityOptions("unconfined")) is None
    assert seccomp.profile_for(SecurityOptions()) == seccomp.default_profile()
    custom = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(custom))
    assert seccomp.profile_for(SecurityOptions(str(path))) == custom


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "invalid JSON"),
        ('{"defaultAction": "SCMP_ACT_NOPE"}', "is not an action"),
        ('{"defaultAction": "SCMP_ACT_ERRNO", "archMap": []}', "Docker-only"),
        ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],'
         ' "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}]}', "Docker-only"),
        ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [],'
         ' "action": "SCMP_ACT_ALLOW"}]}', "non-empty list"),
        ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["socket"],'
         ' "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "LT"}]}]}',
         "needs an op"),
    ],
)  # fmt: skip
def test_bad_user_profiles_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(seccomp.SeccompProfileError, match=message):
        seccomp.load_profile(str(path))


def test_missing_user_profile_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(seccomp.SeccompProfileError, match=r"nope\.json: No such file"):
        seccomp.load_profile(str(tmp_path / "nope.json"))
