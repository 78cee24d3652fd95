import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import SlipstreamAPI
import SlipstreamControlPlane
import SlipstreamDataPlane
import SlipstreamModel
import SlipstreamPoP

@main
struct Slipstream: AsyncParsableCommand {
    static func main() async {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "slipstream",
        abstract: "A self-hosted Global Accelerator serving the Huawei Cloud GA v1 API.",
        subcommands: [Serve.self, PoPCommand.self, Admin.self]
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the API server and its embedded PoP (the data plane; SLIPSTREAM_DATA_PLANE=off runs the API alone)."
    )

    @Option(help: "Address to listen on (SLIPSTREAM_HOST, default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (SLIPSTREAM_PORT, default 8080).") var port: Int?
    @Option(help: "Directory for the database and keys (SLIPSTREAM_DATA_DIR, default ./.slipstream).") var dataDir: String?
    @Option(
        help:
            "A PostgreSQL database shared by API replicas, postgres://user[:password]@host[:port]/database (SLIPSTREAM_DATABASE_URL; needs SLIPSTREAM_MASTER_KEY)."
    )
    var databaseURL: String?
    @Flag(help: "Run the API alone, without the embedded PoP (SLIPSTREAM_DATA_PLANE=off).") var noDataPlane = false

    func run() async throws {
        var configuration = try SlipstreamConfiguration(environment: ProcessInfo.processInfo.environment)
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let dataDir { configuration.dataDirectory = dataDir }
        if let databaseURL, !databaseURL.isEmpty { configuration.databaseURL = databaseURL }
        if self.noDataPlane { configuration.dataPlaneEnabled = false }
        let logger = makeLogger(configuration.logLevel)
        if let limits = DescriptorLimit.raiseSoftLimitToHard() {
            logger.info(
                "open-file limit",
                metadata: ["soft_at_start": "\(limits.before)", "soft": "\(limits.after)", "hard": "\(limits.hard)"]
            )
        }
        let app = try await buildApplication(configuration: configuration, logger: logger) { first in
            let path = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent(DataDirectory.credentialsFile).path
            print("Created the first account; its credentials are saved in \(path):")
            print(String(decoding: try JSONEncoder.credentials.encode(first), as: UTF8.self))
            fflush(nil)
        }
        try await app.runService()
    }
}

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Administer a data directory or a replicas' database.",
        subcommands: [CreateAccount.self, CreatePoP.self, RotatePoPToken.self, DeletePoP.self]
    )

    struct CreatePoP: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-pop",
            abstract: "Register a remote PoP and print its credential as one JSON object (for `slipstream pop --credential-file`)."
        )

        @OptionGroup var store: StoreOptions
        @Option(help: "The PoP's id: 1-36 letters, digits and '-'.") var popID: String
        @Option(help: "The region it serves (one of SLIPSTREAM_REGIONS): its endpoint groups are local to it.") var region: String

        func run() async throws {
            let credential = try await self.store.withControlPlane { try await $0.createPoP(id: self.popID, regionID: self.region) }
            print(String(decoding: try JSONEncoder.credentials.encode(credential), as: UTF8.self))
        }
    }

    struct RotatePoPToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-pop-token",
            abstract: "Give a PoP a new token and print its new credential; the old token stops working at once."
        )

        @OptionGroup var store: StoreOptions
        @Option(help: "The PoP's id.") var popID: String

        func run() async throws {
            let credential = try await self.store.withControlPlane { try await $0.rotatePoPToken(id: self.popID) }
            print(String(decoding: try JSONEncoder.credentials.encode(credential), as: UTF8.self))
        }
    }

    struct DeletePoP: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete-pop",
            abstract: "Remove a PoP: its token stops working and it no longer counts for status and health."
        )

        @OptionGroup var store: StoreOptions
        @Option(help: "The PoP's id.") var popID: String

        func run() async throws {
            try await self.store.withControlPlane { try await $0.deletePoP(id: self.popID) }
        }
    }

    struct CreateAccount: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-account",
            abstract: "Create an account and print its credentials as one JSON object."
        )

        @OptionGroup var store: StoreOptions
        @Option(help: "Account (domain) and user name: letters, digits and '-', 1-64 characters.") var name: String

        func run() async throws {
            let credentials = try await self.store.withDirectory { directory, _ in try await directory.accounts.createAccount(name: self.name) }
            print(String(decoding: try JSONEncoder.credentials.encode(credentials), as: UTF8.self))
        }
    }
}

/// Where an `admin` command finds the store: a data directory or the replicas' PostgreSQL database.
struct StoreOptions: ParsableArguments {
    @Option(help: "The data directory (SLIPSTREAM_DATA_DIR, default ./.slipstream).") var dataDir: String?
    @Option(help: "The PostgreSQL database of the replicas (SLIPSTREAM_DATABASE_URL; needs SLIPSTREAM_MASTER_KEY).")
    var databaseURL: String?

    /// Opens the store of `dataDir` or `databaseURL`, runs `body` on it and closes it; GA errors become usage errors.
    /// Refuses a data directory without a database instead of creating one.
    func withDirectory<T>(_ body: (DataDirectory, SlipstreamConfiguration) async throws -> T) async throws -> T {
        var configuration = try SlipstreamConfiguration(environment: ProcessInfo.processInfo.environment)
        if let dataDir = self.dataDir { configuration.dataDirectory = dataDir }
        if let databaseURL = self.databaseURL, !databaseURL.isEmpty { configuration.databaseURL = databaseURL }
        // An admin command works on a store `serve` made; a mistyped directory must not become a new, empty one.
        if (configuration.databaseURL ?? "").isEmpty {
            let database = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent(DataDirectory.databaseFile).path
            guard FileManager.default.fileExists(atPath: database) else {
                throw ValidationError(
                    "no Slipstream data directory at \(configuration.dataDirectory) (\(DataDirectory.databaseFile) is missing): check the path, or start `slipstream serve --data-dir \(configuration.dataDirectory)` once first"
                )
            }
        }
        var logger = Logger(label: "slipstream")
        logger.logLevel = .warning
        let directory = try await DataDirectory.open(configuration: configuration, logger: logger, bootstrap: false)
        do {
            let result = try await body(directory, configuration)
            try await directory.store.close()
            return result
        } catch let error as GAError {
            try? await directory.store.close()
            throw ValidationError(error.message)
        } catch {
            try? await directory.store.close()
            throw error
        }
    }

    /// ``withDirectory(_:)`` with the directory's control plane.
    func withControlPlane<T>(_ body: (ControlPlane) async throws -> T) async throws -> T {
        try await self.withDirectory { directory, configuration in
            try await body(ControlPlane(store: directory.store, settings: configuration.controlPlane))
        }
    }
}

struct PoPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pop",
        abstract: "Run a remote PoP: serve the accelerators of the control planes' configuration and report back.",
        discussion: """
            The data-plane settings are the SLIPSTREAM_* variables of `serve` (connect, drain and UDP timeouts, session \
            limits, SLIPSTREAM_LOG_LEVEL). With no control plane reachable the PoP serves the last snapshot saved in \
            its state directory.
            """
    )

    @Option(help: "Control-plane base URLs, comma-separated, tried in turn (SLIPSTREAM_CONTROL_PLANE).") var controlPlane: String?
    @Option(help: "The JSON credential `slipstream admin create-pop` printed.") var credentialFile: String
    @Option(help: "Directory for the last applied snapshot and the access logs; created if missing.") var stateDir = ".slipstream-pop"
    @Option(help: "Seconds between heartbeat reports (1-60; keep it well under SLIPSTREAM_POP_STALE_SECONDS).") var heartbeatSeconds = 5

    func run() async throws {
        let configuration = try SlipstreamConfiguration(environment: ProcessInfo.processInfo.environment)
        let urls = (self.controlPlane ?? ProcessInfo.processInfo.environment["SLIPSTREAM_CONTROL_PLANE"] ?? "")
            .split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)).trimmingSuffix("/") }
        guard !urls.isEmpty, urls.allSatisfy({ $0.hasPrefix("http://") || $0.hasPrefix("https://") }) else {
            throw ValidationError("--control-plane needs one or more http:// URLs, comma-separated")
        }
        guard (1...60).contains(self.heartbeatSeconds) else { throw ValidationError("--heartbeat-seconds must be 1-60") }
        let credential: PoPCredential
        do {
            credential = try JSONDecoder().decode(PoPCredential.self, from: Data(contentsOf: URL(fileURLWithPath: self.credentialFile)))
        } catch {
            throw ValidationError("cannot read the credential in \(self.credentialFile): \(error)")
        }
        do {
            try SnapshotFile(directory: self.stateDir).prepare()
        } catch {
            let reason = (error as? SnapshotFileError)?.description ?? error.localizedDescription
            throw ValidationError("the state directory \(self.stateDir) is not usable: \(reason)")
        }
        let logger = makeLogger(configuration.logLevel)
        if let limits = DescriptorLimit.raiseSoftLimitToHard() {
            logger.info("open-file limit", metadata: ["soft_at_start": "\(limits.before)", "soft": "\(limits.after)", "hard": "\(limits.hard)"])
        }
        var agentConfiguration = PoPAgentConfiguration(controlPlanes: urls, credential: credential, stateDirectory: self.stateDir)
        agentConfiguration.heartbeatInterval = .seconds(self.heartbeatSeconds)
        let agent = try PoPAgent(
            configuration: agentConfiguration,
            pop: configuration.popConfiguration(popID: credential.popID, regionID: credential.regionID),
            metrics: MetricsRegistry(),
            logger: logger
        )
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: agent)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        self.hasSuffix(suffix) ? String(self.dropLast(suffix.count)) : self
    }
}

func makeLogger(_ level: String) -> Logger {
    var logger = Logger(label: "slipstream")
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}

extension JSONEncoder {
    static var credentials: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
