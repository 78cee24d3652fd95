import SlipstreamModel

/// The request bodies of the control-plane operations, as `models.json` constrains them.
public enum RequestSchemas {
    static let name = Schema.string(StringRule(minLength: 1, maxLength: 64, pattern: .name))
    static let description = Schema.string(StringRule(maxLength: 255, pattern: .description))
    static let id = Schema.string(StringRule(minLength: 1, maxLength: 36))
    static func oneOf(_ values: String...) -> Schema { .string(StringRule(maxLength: 0, allowed: values)) }

    static let tags = Schema.array(
        .object([
            .required("key", .string(StringRule(minLength: 0, maxLength: 128, pattern: .tagKey))),
            .required("value", .string(StringRule(minLength: 0, maxLength: 255, pattern: .tagValue))),
        ]),
        maxItems: 20
    )
    static let portRanges = Schema.array(
        .object([
            .required("from_port", .integer(min: 1, max: 65535)),
            .required("to_port", .integer(min: 1, max: 65535)),
        ]),
        minItems: 1,
        maxItems: 10
    )

    public static let createAccelerator = Schema.object([
        .required(
            "accelerator",
            .object([
                .required("name", name),
                .optional("description", description),
                .required(
                    "ip_sets",
                    .array(
                        .object([
                            .required("ip_type", oneOf("IPV4", "IPV6")),
                            .required("area", oneOf("OUTOFCM", "CM")),
                        ]),
                        minItems: 1,
                        maxItems: 1
                    )
                ),
                .required("enterprise_project_id", .string(StringRule(minLength: 1, maxLength: 36))),
                .optional("tags", tags),
            ])
        )
    ])

    public static let updateAccelerator = Schema.object([
        .required("accelerator", .object([.optional("name", name), .optional("description", description)]))
    ])

    public static let createListener = Schema.object([
        .required(
            "listener",
            .object([
                .required("name", name),
                .optional("description", description),
                .required("protocol", oneOf("TCP", "UDP")),
                .required("port_ranges", portRanges),
                .optional("client_affinity", oneOf("SOURCE_IP", "NONE")),
                .required("accelerator_id", id),
                .optional("tags", tags),
            ])
        )
    ])

    public static let updateListener = Schema.object([
        .required(
            "listener",
            .object([
                .optional("name", name),
                .optional("description", description),
                .optional("port_ranges", portRanges),
                .optional("client_affinity", oneOf("SOURCE_IP", "NONE")),
            ])
        )
    ])

    public static let createEndpointGroup = Schema.object([
        .required(
            "endpoint_group",
            .object([
                .required("name", name),
                .optional("description", description),
                .optional("traffic_dial_percentage", .integer(min: 0, max: 100)),
                .required("region_id", .string(StringRule(minLength: 1, maxLength: 64))),
                .required("listeners", .array(.object([.required("id", id)]), minItems: 1, maxItems: 1)),
            ])
        )
    ])

    public static let updateEndpointGroup = Schema.object([
        .required(
            "endpoint_group",
            .object([
                .optional("name", name),
                .optional("description", description),
                .optional("traffic_dial_percentage", .integer(min: 0, max: 100)),
            ])
        )
    ])

    public static let createEndpoint = Schema.object([
        .required(
            "endpoint",
            .object([
                .required("resource_id", .string(StringRule(minLength: 1, maxLength: 255))),
                .required("resource_type", oneOf("EIP", "ECS", "ELB", "CUSTOM_IP", "CUSTOM_DOMAIN_NAME", "CUSTOM_EIP")),
                .optional("weight", .integer(min: 0, max: 100)),
                .required("ip_address", .string(StringRule(minLength: 1, maxLength: 255))),
            ])
        )
    ])

    public static let updateEndpoint = Schema.object([
        .required("endpoint", .object([.optional("weight", .integer(min: 0, max: 100))]))
    ])

    static func healthCheckFields(required: Bool) -> [Schema.Field] {
        func field(_ name: String, _ schema: Schema) -> Schema.Field {
            Schema.Field(name: name, required: required, schema: schema)
        }
        return [
            field("protocol", oneOf("TCP", "UDP")),
            field("port", .integer(min: 1, max: 65535)),
            field("interval", .integer(min: 1, max: 60)),
            field("timeout", .integer(min: 1, max: 60)),
            field("max_retries", .integer(min: 1, max: 10)),
            field("enabled", .boolean),
        ]
    }

    public static let createHealthCheck = Schema.object([
        .required("health_check", .object([.required("endpoint_group_id", id)] + healthCheckFields(required: true)))
    ])

    public static let updateHealthCheck = Schema.object([
        .required("health_check", .object(healthCheckFields(required: false)))
    ])

    static let ipEntry = Schema.object([
        .required("cidr", .string(StringRule(minLength: 1, maxLength: 50))),
        .optional("description", description),
    ])

    public static let createIPGroup = Schema.object([
        .required(
            "ip_group",
            .object([
                .required("name", name),
                .optional("description", description),
                .optional("ip_list", .array(ipEntry, maxItems: 20)),
            ])
        )
    ])

    public static let updateIPGroup = Schema.object([
        .required("ip_group", .object([.optional("name", name), .optional("description", description)]))
    ])

    public static let addIPs = Schema.object([.required("ip_list", .array(ipEntry, minItems: 1, maxItems: 20))])

    public static let removeIPs = Schema.object([
        .required("ip_list", .array(.string(StringRule(minLength: 1, maxLength: 50)), minItems: 1, maxItems: 20))
    ])

    public static let associateListener = Schema.object([
        .required("listener_id", .string(StringRule(minLength: 1, maxLength: 36))),
        .required("type", oneOf("BLACK", "WHITE")),
    ])

    public static let disassociateListener = Schema.object([
        .required("listener_id", .string(StringRule(minLength: 1, maxLength: 36)))
    ])

    public static let createTags = Schema.object([
        .required(
            "tags",
            .array(
                .object([
                    .required("key", .string(StringRule(minLength: 0, maxLength: 128, pattern: .tagKey))),
                    .required("value", .string(StringRule(minLength: 0, maxLength: 255, pattern: .tagValue))),
                ]),
                minItems: 1,
                maxItems: 20
            )
        )
    ])

    public static let deleteTags = Schema.object([
        .required("tags", .array(.object([.required("key", .string(StringRule(minLength: 0, maxLength: 128)))]), minItems: 1, maxItems: 20))
    ])

    public static let tagFilter = Schema.object([
        .optional(
            "tags",
            .array(
                .object([
                    .required("key", .string(StringRule(minLength: 0, maxLength: 128))),
                    .required("values", .array(.string(StringRule(maxLength: 255)), maxItems: 10)),
                ]),
                maxItems: 20
            )
        ),
        .optional(
            "matches",
            .array(.object([.required("key", oneOf("resource_name")), .required("value", .string(StringRule(maxLength: 255)))]), maxItems: 1)
        ),
    ])

    public static let createLogtank = Schema.object([
        .required(
            "logtank",
            .object([
                .required("resource_type", oneOf("LISTENER")),
                .required("resource_id", id),
                .required("log_group_id", .string(StringRule(minLength: 1, maxLength: 64))),
                .required("log_stream_id", .string(StringRule(minLength: 1, maxLength: 64))),
            ])
        )
    ])

    public static let updateLogtank = Schema.object([
        .required(
            "logtank",
            .object([
                .required("log_group_id", .string(StringRule(minLength: 1, maxLength: 64))),
                .required("log_stream_id", .string(StringRule(minLength: 1, maxLength: 64))),
            ])
        )
    ])
}
