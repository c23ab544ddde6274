package io.zk.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Apache's client properties as the native side takes them: the JVM's system properties that
 * Apache's Java client reads ({@code zookeeper.*}, {@code java.security.auth.login.config},
 * {@code jute.maxbuffer}), then a client's own (a builder's), which win. Flattened into name,
 * value pairs; the core maps them onto the client's options.
 */
public final class ClientProperties {
    private ClientProperties() {}

    /** The system properties, then {@code own} (may be null). */
    public static String[] flatten(Map<String, String> own) {
        List<String> out = new ArrayList<>();
        Properties system = System.getProperties();
        for (String name : system.stringPropertyNames()) {
            if (isClientProperty(name)) {
                out.add(name);
                out.add(system.getProperty(name));
            }
        }
        if (own != null) {
            for (Map.Entry<String, String> e : own.entrySet()) {
                if (e.getKey() != null && e.getValue() != null) {
                    out.add(e.getKey());
                    out.add(e.getValue());
                }
            }
        }
        return out.toArray(new String[0]);
    }

    private static boolean isClientProperty(String name) {
        return name.startsWith("zookeeper.") || name.equals("java.security.auth.login.config")
            || name.equals("jute.maxbuffer");
    }
}
