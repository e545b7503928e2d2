import Foundation

/// What can be told about a private key file without its passphrase: whether it is there, its
/// type, whether it is encrypted. Used to explain an authentication failure precisely.
struct PrivateKeyFile {
    let path: String
    let exists: Bool
    let readable: Bool
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, … when it can be told.
    private(set) var keyType: String?
    private(set) var encrypted: Bool?
    /// The `.pub` file next to it, when present.
    let publicKeyPath: String?

    init(path: String) {
        self.path = path
        exists = FileManager.default.fileExists(atPath: path)
        readable = FileManager.default.isReadableFile(atPath: path)
        let pub = path + ".pub"
        publicKeyPath = FileManager.default.isReadableFile(atPath: pub) ? pub : nil
        if let pub = publicKeyPath, let text = try? String(contentsOfFile: pub, encoding: .utf8),
            let first = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first
        {
            keyType = String(first)
        }
        guard readable, let data = FileManager.default.contents(atPath: path), data.count < 1 << 20 else { return }
        inspect(String(decoding: data, as: UTF8.self))
    }

    var isRSA: Bool { keyType == "ssh-rsa" }

    private mutating func inspect(_ text: String) {
        if text.contains("BEGIN OPENSSH PRIVATE KEY") {
            inspectOpenSSH(text)
        } else if text.contains("BEGIN RSA PRIVATE KEY") {
            keyType = keyType ?? "ssh-rsa"
            encrypted = text.contains("ENCRYPTED")
        } else if text.contains("BEGIN EC PRIVATE KEY") {
            keyType = keyType ?? "ecdsa"
            encrypted = text.contains("ENCRYPTED")
        } else if text.contains("BEGIN DSA PRIVATE KEY") {
            keyType = keyType ?? "ssh-dss"
            encrypted = text.contains("ENCRYPTED")
        } else if text.contains("BEGIN ENCRYPTED PRIVATE KEY") {
            encrypted = true
        } else if text.contains("BEGIN PRIVATE KEY") {
            encrypted = false
        }
    }

    /// The OpenSSH format: "openssh-key-v1\0", then cipher name, KDF name, KDF options, the key
    /// count and the first public key blob, whose first string is the key type.
    private mutating func inspectOpenSSH(_ text: String) {
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let data = Data(base64Encoded: body) else { return }
        var reader = SSHWireReader(Array(data))
        guard reader.take(15) == Array("openssh-key-v1\0".utf8), let cipher = reader.string() else { return }
        encrypted = cipher != Array("none".utf8)
        guard reader.string() != nil, reader.string() != nil, reader.uint32() != nil,
            let publicBlob = reader.string()
        else { return }
        var blobReader = SSHWireReader(publicBlob)
        if let type = blobReader.string() { keyType = String(decoding: type, as: UTF8.self) }
    }
}

/// Reads SSH wire-format fields (RFC 4251) with bounds checks; every read returns nil past the end.
struct SSHWireReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func take(_ count: Int) -> [UInt8]? {
        guard count >= 0, count <= bytes.count - offset else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func uint32() -> UInt32? {
        guard let b = take(4) else { return nil }
        return b.reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func string() -> [UInt8]? {
        guard let length = uint32(), length <= UInt32(Int32.max) else { return nil }
        return take(Int(length))
    }
}
