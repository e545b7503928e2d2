// swift-tools-version: 6.1
import PackageDescription

// Targets follow DESIGN.md: a model with no I/O at the bottom, the template language, the loader,
// modules and connections as plug-ins, the engine that drives them, and a thin executable on top.
let package = Package(
    name: "pksplay",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pksplay", targets: ["pksplay"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibSSH2",
            pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev"])]
        ),
        .systemLibrary(name: "CMalloc"),
        .target(
            name: "PKSPlayCore",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "PKSPlayTemplate", dependencies: ["PKSPlayCore", "Yams"]),
        .target(name: "PKSPlayLoader", dependencies: ["PKSPlayCore", "PKSPlayTemplate", "Yams"]),
        .target(name: "PKSPlaySSH", dependencies: ["PKSPlayCore", "CLibSSH2"]),
        .target(name: "PKSPlayLocal", dependencies: ["PKSPlayCore"]),
        .target(name: "PKSPlayModules", dependencies: ["PKSPlayCore", "Yams"]),
        .target(
            name: "PKSPlayEngine",
            dependencies: [
                "PKSPlayCore", "PKSPlayTemplate", "PKSPlayLoader", "PKSPlayLocal",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "pksplay",
            dependencies: [
                "PKSPlayCore", "PKSPlayLoader", "PKSPlayEngine", "PKSPlayModules", "PKSPlaySSH", "PKSPlayLocal", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Release builds link the Swift runtime and Foundation statically (`make release`:
            // --static-swift-stdlib) for start-up time; lld, because GNU gold warns about a
            // mktemp reference inside the static Foundation archive that pksplay never calls.
            linkerSettings: [.unsafeFlags(["-use-ld=lld"], .when(platforms: [.linux], configuration: .release))]
        ),
        .target(name: "PKSPlayTestSupport", dependencies: ["PKSPlayCore", "PKSPlayLocal"]),
        .testTarget(name: "PKSPlayCoreTests", dependencies: ["PKSPlayCore", "PKSPlayTestSupport"]),
        .testTarget(name: "PKSPlayTemplateTests", dependencies: ["PKSPlayTemplate"]),
        .testTarget(name: "PKSPlayLoaderTests", dependencies: ["PKSPlayLoader", "PKSPlayModules"]),
        .testTarget(name: "PKSPlaySSHTests", dependencies: ["PKSPlaySSH", "CLibSSH2", "PKSPlayTestSupport"]),
        .testTarget(name: "PKSPlayModulesTests", dependencies: ["PKSPlayModules", "PKSPlayTestSupport"]),
        .testTarget(
            name: "PKSPlayEngineTests",
            dependencies: ["PKSPlayEngine", "PKSPlayModules", "PKSPlayTestSupport", "PKSPlayLoader", "PKSPlayLocal"]
        ),
        .testTarget(name: "ConformanceTests", dependencies: ["pksplay"]),
    ],
    swiftLanguageModes: [.v6]
)
