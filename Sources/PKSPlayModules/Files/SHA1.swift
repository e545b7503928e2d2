import Foundation
import PKSPlayCore

/// SHA-1 of bytes, as `sha1sum` prints it, so the controller can compare a local file with a
/// remote one without sending it (Foundation on Linux has no digest API).
enum SHA1 {
    static func hex(_ data: Data) -> String {
        Digest.hex(Digest.sha1([UInt8](data)))
    }
}
