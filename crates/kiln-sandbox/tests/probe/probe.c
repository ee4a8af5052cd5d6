/*
 * Isolation probe: run inside a sandbox (kiln's, or runc's to validate the probe itself), it reports what
 * the process can see and do as one JSON object on stdout. Its privileged attempts (mount a tmpfs on /tmp,
 * set the hostname, ...) only touch the sandbox's own namespaces, which is why it refuses to run unless it
 * is PID 1 of a PID namespace: run on a host as root, they would change the host.
 * Built with `cc -static` by the tests.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

static void json_str(const char *key, const char *value) {
    printf("\"%s\":\"", key);
    for (const char *p = value; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if ((unsigned char)*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    printf("\",");
}

/* The errno name of an attempt, or "ok". Attempts run in a child process so nothing sticks to the probe. */
static const char *attempt_result(int err) {
    static char buf[32];
    if (err == 0) return "ok";
    switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case ENOENT: return "ENOENT";
    case EBUSY: return "EBUSY";
    default: snprintf(buf, sizeof buf, "errno %d", err); return buf;
    }
}

static int in_child(int (*fn)(void)) {
    pid_t pid = fork();
    if (pid < 0) return errno;
    if (pid == 0) _exit(fn());
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

static int try_mount(void) { return mount("none", "/tmp", "tmpfs", 0, NULL) == 0 ? 0 : errno; }
static int try_unshare_ns(void) { return unshare(CLONE_NEWNS) == 0 ? 0 : errno; }
static int try_unshare_user(void) { return unshare(CLONE_NEWUSER) == 0 ? 0 : errno; }
static int try_chroot(void) { return chroot("/") == 0 ? 0 : errno; }
static int try_sysctl(void) {
    FILE *f = fopen("/proc/sys/kernel/hostname", "w");
    if (!f) return errno;
    fclose(f);
    return 0;
}
static int try_sysfs(void) {
    int r = mkdir("/sys/kiln-probe", 0755);
    if (r == 0) { rmdir("/sys/kiln-probe"); return 0; }
    return errno;
}
static int try_mknod(void) {
    int r = mknod("/tmp/.kiln-probe-null", S_IFCHR | 0600, makedev(1, 3));
    if (r == 0) { unlink("/tmp/.kiln-probe-null"); return 0; }
    return errno;
}
static int try_sethostname(void) { return sethostname("probe", 5) == 0 ? 0 : errno; }

static unsigned long long status_hex(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long value = 0;
    size_t n = strlen(field);
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') value = strtoull(line + n + 1, NULL, 16);
    fclose(f);
    return value;
}

int main(void) {
    struct utsname uts;
    if (getpid() != 1) {
        fprintf(stderr, "probe: refusing to run outside a sandbox (I am not PID 1)\n");
        return 2;
    }
    char cwd[4096] = "";
    printf("{");
    printf("\"pid\":%d,\"ppid\":%d,", getpid(), getppid());
    printf("\"uid\":%d,\"gid\":%d,", getuid(), getgid());
    gid_t groups[64];
    int ng = getgroups(64, groups);
    printf("\"groups\":[");
    for (int i = 0; i < ng; i++) printf("%s%d", i ? "," : "", groups[i]);
    printf("],");
    uname(&uts);
    json_str("hostname", uts.nodename);
    if (getcwd(cwd, sizeof cwd)) json_str("cwd", cwd);

    /* Capabilities: the kernel's view (capget) and the bounding set from /proc. */
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    syscall(SYS_capget, &hdr, data);
    unsigned long long eff = data[0].effective | ((unsigned long long)data[1].effective << 32);
    unsigned long long prm = data[0].permitted | ((unsigned long long)data[1].permitted << 32);
    unsigned long long inh = data[0].inheritable | ((unsigned long long)data[1].inheritable << 32);
    printf("\"cap_eff\":\"%016llx\",\"cap_prm\":\"%016llx\",\"cap_inh\":\"%016llx\",", eff, prm, inh);
    printf("\"cap_bnd\":\"%016llx\",\"cap_amb\":\"%016llx\",", status_hex("CapBnd"), status_hex("CapAmb"));
    printf("\"no_new_privs\":%d,", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    printf("\"seccomp\":%llu,", status_hex("Seccomp") );

    /* What the root directory holds. */
    printf("\"root\":[");
    DIR *d = opendir("/");
    struct dirent *e;
    int first = 1;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        printf("%s\"%s\"", first ? "" : ",", e->d_name);
        first = 0;
    }
    if (d) closedir(d);
    printf("],");

    /* Processes visible in /proc. */
    int procs = 0;
    d = opendir("/proc");
    while (d && (e = readdir(d)))
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9') procs++;
    if (d) closedir(d);
    printf("\"visible_processes\":%d,", procs);

    /* Network interfaces. */
    printf("\"interfaces\":[");
    struct if_nameindex *ifs = if_nameindex();
    for (struct if_nameindex *i = ifs; i && i->if_index; i++)
        printf("%s\"%s\"", i == ifs ? "" : ",", i->if_name);
    if (ifs) if_freenameindex(ifs);
    printf("],");

    printf("\"mount\":\"%s\",", attempt_result(in_child(try_mount)));
    printf("\"unshare_mount_ns\":\"%s\",", attempt_result(in_child(try_unshare_ns)));
    printf("\"unshare_user_ns\":\"%s\",", attempt_result(in_child(try_unshare_user)));
    printf("\"chroot\":\"%s\",", attempt_result(in_child(try_chroot)));
    printf("\"write_proc_sys\":\"%s\",", attempt_result(in_child(try_sysctl)));
    printf("\"write_sys\":\"%s\",", attempt_result(in_child(try_sysfs)));
    printf("\"mknod\":\"%s\",", attempt_result(in_child(try_mknod)));
    printf("\"sethostname\":\"%s\"", attempt_result(in_child(try_sethostname)));
    printf("}\n");
    return 0;
}
