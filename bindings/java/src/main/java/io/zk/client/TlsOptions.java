package io.zk.client;

import java.util.Objects;

/**
 * TLS to the servers' {@code secureClientPort}, from PEM files (what Apache's client reads from
 * {@code zookeeper.client.secure} with {@code zookeeper.ssl.trustStore.*} and
 * {@code zookeeper.ssl.keyStore.*} of type PEM). Pass to {@link ZooKeeperBuilder#withTls}. An
 * unreadable or unusable file makes the {@link io.zk.ZooKeeper} constructor throw an
 * {@link IllegalArgumentException} that names it.
 */
public final class TlsOptions {
    private final String caFile;
    private String certFile;
    private String keyFile;
    private boolean verifyHostname = true;

    /** Servers' certificates are checked against the authorities in {@code caFile}; no client certificate. */
    public TlsOptions(String caFile) {
        this.caFile = Objects.requireNonNull(caFile, "caFile");
    }

    /** Presents this certificate chain and its (unencrypted) key when a server asks for one. */
    public TlsOptions clientCertificate(String certFile, String keyFile) {
        this.certFile = Objects.requireNonNull(certFile, "certFile");
        this.keyFile = Objects.requireNonNull(keyFile, "keyFile");
        return this;
    }

    /**
     * Whether the server's certificate must name the host connected to (default true, as
     * Apache's {@code zookeeper.ssl.hostnameVerification}); off, the authority check stays.
     */
    public TlsOptions verifyHostname(boolean verify) {
        this.verifyHostname = verify;
        return this;
    }

    public String caFile() {
        return caFile;
    }

    public String certFile() {
        return certFile;
    }

    public String keyFile() {
        return keyFile;
    }

    public boolean verifyHostname() {
        return verifyHostname;
    }
}
