import PKSPlayLocal

/// The file-module tests run through the real local connection: its own threads wait on the
/// commands, so the tests never block Swift's cooperative pool.
typealias FilesTestLocalConnection = LocalConnection
