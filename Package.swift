// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

/// The data plane's state is confined to one flow-loop thread per object, and its per-flow path moves class
/// properties `inout` (the splice buffers, the readiness flags, the connect state machine), which release builds
/// would check for overlapping access at run time on every call (`swift_beginAccess`, a thread-local access set):
/// about 2 % of a new connection's CPU. Release builds leave those checks out; debug builds, and so the tests, keep
/// them.
let dataPlaneSwiftSettings: [SwiftSetting] =
    swiftSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "slipstream",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "slipstream", targets: ["slipstream"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // The resource model and the PoP contract: no I/O library.
        .target(
            name: "SlipstreamModel",
            swiftSettings: swiftSettings
        ),
        // The rules of every operation over store protocols; the reconciler; accounts and secrets. No SQL, no HTTP.
        .target(
            name: "SlipstreamControlPlane",
            dependencies: [
                "SlipstreamModel",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // SQL only: the control plane's store protocols on SQLite and PostgreSQL.
        .target(
            name: "SlipstreamStore",
            dependencies: [
                "SlipstreamModel",
                "SlipstreamControlPlane",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // epoll(7) and eventfd(2), which the Glibc module does not import.
        .target(name: "CSlipstreamLinux"),
        .target(
            name: "SlipstreamDataPlane",
            dependencies: [
                "SlipstreamModel",
                "CSlipstreamLinux",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: dataPlaneSwiftSettings
        ),
        // A remote PoP: the data plane driven over the PoP protocol (HTTP), with its state directory.
        .target(
            name: "SlipstreamPoP",
            dependencies: [
                "SlipstreamModel",
                "SlipstreamDataPlane",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SlipstreamAPI",
            dependencies: [
                "SlipstreamModel",
                "SlipstreamControlPlane",
                "SlipstreamStore",
                "SlipstreamDataPlane",
                "CSlipstreamLinux",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            // Generated by scripts/gen_openapi.py; compiled in so the binary needs no resource bundle beside it.
            resources: [.embedInCode("Resources/openapi.json")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "slipstream",
            dependencies: [
                "SlipstreamAPI",
                "SlipstreamDataPlane",
                "SlipstreamPoP",
                "SlipstreamControlPlane",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // Tests, one target per layer, and the fixtures they share.
        .target(
            name: "SlipstreamTestSupport",
            dependencies: [
                "SlipstreamAPI",
                "SlipstreamControlPlane",
                "SlipstreamStore",
                "SlipstreamModel",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Tests/SlipstreamTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SlipstreamModelTests",
            dependencies: ["SlipstreamModel"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SlipstreamControlPlaneTests",
            dependencies: ["SlipstreamControlPlane", "SlipstreamModel"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SlipstreamStoreTests",
            dependencies: [
                "SlipstreamStore", "SlipstreamControlPlane", "SlipstreamModel", "SlipstreamTestSupport",
                .product(name: "SQLKit", package: "sql-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SlipstreamDataPlaneTests",
            dependencies: [
                "SlipstreamDataPlane",
                "CSlipstreamLinux",
                "SlipstreamModel",
                "SlipstreamTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SlipstreamAPITests",
            dependencies: [
                "SlipstreamAPI",
                "SlipstreamControlPlane",
                "SlipstreamStore",
                "SlipstreamModel",
                "SlipstreamTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The whole server in-process with real traffic on loopback.
        .testTarget(
            name: "SlipstreamEndToEndTests",
            dependencies: [
                "SlipstreamAPI",
                "SlipstreamDataPlane",
                "SlipstreamModel",
                "SlipstreamTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
