// Signs a request to zuofeng's hotline API (docs/hotline-signing.md), Java 11+ standard library only.
//
//   javac HotlineSigner.java && java HotlineSigner SECRET METHOD TARGET TIMESTAMP NONCE BODY_FILE
//
// prints the X-Zuofeng-Signature value. TARGET is the path plus "?query" exactly as sent on the wire:
// non-ASCII characters percent-encoded as UTF-8 (%E4%BD%9C), never decoded or re-encoded before signing.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public final class HotlineSigner {
    private static String hex(byte[] bytes) {
        StringBuilder out = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) out.append(String.format("%02x", b & 0xff));
        return out.toString();
    }

    /** v1=hex(HMAC-SHA256(secret, "v1\nMETHOD\ntarget\ntimestamp\nnonce\nhex(SHA-256(body))")). */
    public static String signature(String secret, String method, String target, String timestamp,
                                   String nonce, byte[] body) throws Exception {
        String bodyHash = hex(MessageDigest.getInstance("SHA-256").digest(body));
        String canonical = String.join("\n", "v1", method.toUpperCase(java.util.Locale.ROOT), target,
                                       timestamp, nonce, bodyHash);
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        return "v1=" + hex(mac.doFinal(canonical.getBytes(StandardCharsets.UTF_8)));
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: HotlineSigner SECRET METHOD TARGET TIMESTAMP NONCE BODY_FILE");
            System.exit(2);
        }
        byte[] body = Files.readAllBytes(Path.of(args[5]));
        System.out.println(signature(args[0], args[1], args[2], args[3], args[4], body));
    }
}
