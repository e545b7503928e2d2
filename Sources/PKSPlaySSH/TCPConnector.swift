import CLibSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens the TCP connection an SSH session runs on: name resolution, a bounded non-blocking
/// connect to each address in turn, and the socket options the session needs.
enum TCPConnector {
    /// Returns a connected, non-blocking socket, or throws ``SessionFailure/transport(_:)`` saying
    /// precisely what went wrong (name not found, refused, timed out, no route).
    static func connect(address: String, port: Int, timeout: Double, userTimeoutSeconds: Int) throws(SessionFailure) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(address, String(port), &hints, &list)
        if rc != 0 {
            let why = String(cString: gai_strerror(rc))
            throw .transport("cannot resolve host name '\(address)': \(why) (check the inventory address or DNS)")
        }
        defer { freeaddrinfo(list) }

        let deadline = ContinuousClock.now + .milliseconds(Int(max(timeout, 0.001) * 1000))
        var failures: [String] = []
        var entry = list
        while let info = entry?.pointee {
            entry = info.ai_next
            let shown = numericHost(info.ai_addr, info.ai_addrlen) ?? address
            do {
                let fd = try connectOne(info, deadline: deadline, timeout: timeout, shown: shown, port: port)
                _ = pks_set_tcp_nodelay(fd)
                _ = pks_set_nosigpipe(fd)
                if userTimeoutSeconds > 0 { _ = pks_set_tcp_user_timeout(fd, UInt32(userTimeoutSeconds * 1000)) }
                return fd
            } catch {
                if case .transport(let why) = error { failures.append(why) }
            }
        }
        if failures.isEmpty { throw .transport("host name '\(address)' resolved to no usable address") }
        throw .transport(failures.joined(separator: "; "))
    }

    private static func connectOne(
        _ info: addrinfo, deadline: ContinuousClock.Instant, timeout: Double, shown: String, port: Int
    ) throws(SessionFailure) -> Int32 {
        // Close-on-exec from the start: a process spawned meanwhile must not inherit the connection.
        #if canImport(Glibc)
        let fd = socket(info.ai_family, info.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.ai_protocol)
        #else
        let fd = socket(info.ai_family, info.ai_socktype, info.ai_protocol)
        #endif
        if fd < 0 { throw .transport("cannot create a socket: \(String(cString: strerror(errno)))") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let where_ = "\(shown) port \(port)"

        if Glibc_connect(fd, info.ai_addr, info.ai_addrlen) == 0 { return fd }
        let started = errno
        guard started == EINPROGRESS || started == EINTR else {
            close(fd)
            throw .transport(describeConnectError(started, where_))
        }
        while true {
            let remaining = deadline - ContinuousClock.now
            let ms = remaining.milliseconds
            if ms <= 0 {
                close(fd)
                throw .transport("TCP connection to \(where_) timed out after \(formatSeconds(timeout)) s (host down or a firewall dropping packets?)")
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let n = poll(&pfd, 1, Int32(min(ms, Int(Int32.max))))
            if n < 0 && errno == EINTR { continue }
            if n == 0 { continue }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            if soError == 0 { return fd }
            close(fd)
            throw .transport(describeConnectError(soError, where_))
        }
    }

    private static func describeConnectError(_ code: Int32, _ where_: String) -> String {
        switch code {
        case ECONNREFUSED: return "connection refused by \(where_) (is sshd running and listening on that port?)"
        case EHOSTUNREACH: return "no route to \(where_) (host unreachable)"
        case ENETUNREACH: return "network unreachable for \(where_)"
        case ETIMEDOUT: return "TCP connection to \(where_) timed out"
        default: return "cannot connect to \(where_): \(String(cString: strerror(code)))"
        }
    }

    private static func numericHost(_ address: UnsafeMutablePointer<sockaddr>?, _ length: socklen_t) -> String? {
        guard let address else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(address, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

// `connect` is shadowed by ``TCPConnector/connect(address:port:timeout:userTimeoutSeconds:)``.
@inline(__always)
private func Glibc_connect(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>?, _ length: socklen_t) -> Int32 {
    #if canImport(Glibc)
    return Glibc.connect(fd, address, length)
    #else
    return Darwin.connect(fd, address, length)
    #endif
}

extension Duration {
    /// Whole milliseconds, rounded up so a wait never ends early.
    var milliseconds: Int {
        if self <= .zero { return 0 }
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}

func formatSeconds(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
}
