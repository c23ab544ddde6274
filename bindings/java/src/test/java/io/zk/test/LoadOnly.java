package io.zk.test;

import io.zk.internal.NativeLoader;

/** Loads the native library and prints where from (or the loader's error). */
public final class LoadOnly {
    private LoadOnly() {}

    public static void main(String[] args) {
        try {
            NativeLoader.load();
            System.out.println("loaded " + NativeLoader.loadedFrom());
        } catch (UnsatisfiedLinkError e) {
            System.out.println("error " + e.getMessage());
        }
    }
}
