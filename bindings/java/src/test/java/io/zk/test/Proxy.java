package io.zk.test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/** A loopback TCP proxy a test can cut ({@link #stop}) and reopen ({@link #start}) on the same port. */
public final class Proxy implements AutoCloseable {
    private final int targetPort;
    private final int port;
    private ServerSocket listener;
    private final List<Socket> sockets = new ArrayList<>();

    public Proxy(int targetPort) throws IOException {
        this.targetPort = targetPort;
        this.port = ZkServer.freePort();
        start();
    }

    public String connectString() {
        return "127.0.0.1:" + port;
    }

    public synchronized void start() throws IOException {
        if (listener != null) {
            return;
        }
        ServerSocket socket = new ServerSocket();
        socket.setReuseAddress(true);
        socket.bind(new InetSocketAddress("127.0.0.1", port));
        listener = socket;
        Thread acceptor = new Thread(() -> accept(socket), "proxy-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    private void accept(ServerSocket socket) {
        while (true) {
            try {
                Socket client = socket.accept();
                Socket server = new Socket("127.0.0.1", targetPort);
                synchronized (this) {
                    // Accepted while stop() ran (a listener closed under a blocked accept may take
                    // one more connection): cut it as stop() cut the others.
                    if (listener != socket) {
                        closeQuietly(client);
                        closeQuietly(server);
                        return;
                    }
                    sockets.add(client);
                    sockets.add(server);
                }
                pump(client, server);
                pump(server, client);
            } catch (IOException closed) {
                return;
            }
        }
    }

    private static void pump(Socket from, Socket to) {
        Thread thread = new Thread(() -> {
            byte[] buffer = new byte[16 * 1024];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buffer)) > 0) {
                    out.write(buffer, 0, n);
                    out.flush();
                }
            } catch (IOException ended) {
                // either side closed
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "proxy-pump");
        thread.setDaemon(true);
        thread.start();
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    /** Refuses new connections and cuts the open ones. */
    public synchronized void stop() throws IOException {
        if (listener != null) {
            listener.close();
            listener = null;
        }
        for (Socket socket : sockets) {
            closeQuietly(socket);
        }
        sockets.clear();
    }

    @Override
    public void close() throws IOException {
        stop();
    }
}
