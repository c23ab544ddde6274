package io.zk.test;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/** Injects the shared {@link ZkServer} into tests: {@code @ExtendWith(SharedServer.class)}. */
public final class SharedServer implements ParameterResolver {
    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == ZkServer.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        try {
            return Servers.shared(context);
        } catch (Exception e) {
            throw new IllegalStateException("cannot start the shared server", e);
        }
    }
}
