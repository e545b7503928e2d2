#ifndef PKSPLAY_CLIBSSH2_SHIM_H
#define PKSPLAY_CLIBSSH2_SHIM_H
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

// Swift cannot call C macros that take arguments, and several libssh2 entry points are such
// macros. Each wrapper below is the macro spelled out with explicit lengths, so no call
// depends on strlen over bytes that might not be NUL-terminated.

/// What the C callbacks of one session share with Swift, behind the session's abstract pointer.
typedef struct {
    /// The password keyboard-interactive prompts are answered with, or NULL.
    const char *password;
    /// CLOCK_MONOTONIC milliseconds of the last time bytes arrived from the server.
    long long last_receive_ms;
} pks_session_state;

static inline long long pks_now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/// libssh2's own receive function, plus a note of when bytes last arrived, so a server that
/// stops answering keepalives can be told from one that is merely quiet.
static inline ssize_t pks_recv(libssh2_socket_t socket, void *buffer, size_t length, int flags, void **abstract) {
    ssize_t received = recv(socket, buffer, length, flags);
    if (received < 0) {
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
    if (received > 0 && abstract != NULL && *abstract != NULL) {
        ((pks_session_state *)*abstract)->last_receive_ms = pks_now_ms();
    }
    return received;
}

/// A session whose abstract pointer is `state` and whose reads go through `pks_recv`.
static inline LIBSSH2_SESSION *pks_session_init(pks_session_state *state) {
    LIBSSH2_SESSION *session = libssh2_session_init_ex(NULL, NULL, NULL, state);
    if (session != NULL) {
        libssh2_session_callback_set(session, LIBSSH2_CALLBACK_RECV, (void *)pks_recv);
    }
    return session;
}

static inline int pks_session_disconnect(LIBSSH2_SESSION *session, const char *description) {
    return libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, description, "");
}

static inline LIBSSH2_CHANNEL *pks_channel_open_session(LIBSSH2_SESSION *session) {
    return libssh2_channel_open_ex(session, "session", sizeof("session") - 1,
                                   LIBSSH2_CHANNEL_WINDOW_DEFAULT, LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
}

static inline int pks_channel_exec(LIBSSH2_CHANNEL *channel, const char *command, unsigned int length) {
    return libssh2_channel_process_startup(channel, "exec", sizeof("exec") - 1, command, length);
}

static inline ssize_t pks_channel_read(LIBSSH2_CHANNEL *channel, int stream, char *buffer, size_t length) {
    return libssh2_channel_read_ex(channel, stream, buffer, length);
}

static inline ssize_t pks_channel_write(LIBSSH2_CHANNEL *channel, const char *buffer, size_t length) {
    return libssh2_channel_write_ex(channel, 0, buffer, length);
}

static inline int pks_userauth_password(LIBSSH2_SESSION *session, const char *user, unsigned int userLength,
                                        const char *password, unsigned int passwordLength) {
    return libssh2_userauth_password_ex(session, user, userLength, password, passwordLength, NULL);
}

static inline int pks_userauth_publickey_fromfile(LIBSSH2_SESSION *session, const char *user,
                                                  unsigned int userLength, const char *publicKey,
                                                  const char *privateKey, const char *passphrase) {
    return libssh2_userauth_publickey_fromfile_ex(session, user, userLength, publicKey, privateKey, passphrase);
}

/// The answer given to every keyboard-interactive prompt: the password in the session's
/// `pks_session_state`, which Swift sets to a NUL-terminated copy only while it authenticates.
static inline void pks_kbdint_answer_password(const char *name, int name_len, const char *instruction,
                                              int instruction_len, int num_prompts,
                                              const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts,
                                              LIBSSH2_USERAUTH_KBDINT_RESPONSE *responses, void **abstract) {
    (void)name; (void)name_len; (void)instruction; (void)instruction_len; (void)prompts;
    const char *password = (abstract && *abstract) ? ((pks_session_state *)*abstract)->password : NULL;
    for (int i = 0; i < num_prompts; i++) {
        if (password == NULL) { responses[i].text = NULL; responses[i].length = 0; continue; }
        size_t length = strlen(password);
        // libssh2 frees each response with the session's allocator, the C library's by default.
        responses[i].text = strdup(password);
        responses[i].length = responses[i].text ? (unsigned int)length : 0;
    }
}

static inline int pks_userauth_keyboard_interactive(LIBSSH2_SESSION *session, const char *user,
                                                    unsigned int userLength) {
    return libssh2_userauth_keyboard_interactive_ex(session, user, userLength, pks_kbdint_answer_password);
}

static inline LIBSSH2_SFTP_HANDLE *pks_sftp_open(LIBSSH2_SFTP *sftp, const char *path, unsigned int pathLength,
                                                 unsigned long flags, long mode) {
    return libssh2_sftp_open_ex(sftp, path, pathLength, flags, mode, LIBSSH2_SFTP_OPENFILE);
}

static inline int pks_sftp_close(LIBSSH2_SFTP_HANDLE *handle) {
    return libssh2_sftp_close_handle(handle);
}

static inline int pks_sftp_fsetstat(LIBSSH2_SFTP_HANDLE *handle, LIBSSH2_SFTP_ATTRIBUTES *attributes) {
    return libssh2_sftp_fstat_ex(handle, attributes, 1);
}

static inline int pks_sftp_fstat(LIBSSH2_SFTP_HANDLE *handle, LIBSSH2_SFTP_ATTRIBUTES *attributes) {
    return libssh2_sftp_fstat_ex(handle, attributes, 0);
}

static inline int pks_sftp_unlink(LIBSSH2_SFTP *sftp, const char *path, unsigned int pathLength) {
    return libssh2_sftp_unlink_ex(sftp, path, pathLength);
}

// Socket options Swift sees only as macros or under platform-specific names.
static inline int pks_set_tcp_nodelay(int fd) {
    int on = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/// Acknowledges received segments at once instead of after the delayed-ACK timer (40 ms on Linux).
/// sshd does not set TCP_NODELAY on non-interactive sessions, so when it writes two small packets
/// back to back (the `hostkeys-00@openssh.com` notice, then the channel-open confirmation) Nagle
/// holds the second until the first is acknowledged: without this, the first command on every
/// connection waited 40 ms. The kernel clears the flag as it goes, so it is set before each wait.
/// Linux only; elsewhere a no-op returning 0.
static inline int pks_set_tcp_quickack(int fd) {
#ifdef TCP_QUICKACK
    int on = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
#else
    (void)fd;
    return 0;
#endif
}

/// Bounds how long sent data may stay unacknowledged before the kernel drops the connection, so a
/// peer that vanished without a FIN is noticed. Linux only; elsewhere a no-op returning 0.
static inline int pks_set_tcp_user_timeout(int fd, unsigned int milliseconds) {
#ifdef TCP_USER_TIMEOUT
    return setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &milliseconds, sizeof(milliseconds));
#else
    (void)fd; (void)milliseconds;
    return 0;
#endif
}

static inline int pks_set_nosigpipe(int fd) {
#ifdef SO_NOSIGPIPE
    int on = 1;
    return setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on));
#else
    (void)fd;
    return 0;
#endif
}

#endif
