// Signs a request to zuofeng's hotline API (docs/hotline-signing.md), Java 11+ standard library only.
//
//   javac HotlineSigner.java && java HotlineSigner SECRET METHOD TARGET TIMESTAMP NONCE BODY_FILE
//
// prints the X-Zuofeng-Signature value. TARGET is the path plus "?query" exactly as sent on the wire:
// non-ASCII characters percent-encoded as UTF-8 (%E4%BD%9C), never decoded or re-encoded before signing.
//
//   java HotlineSigner send BASE_URL KEY_ID SECRET METHOD TARGET BODY_FILE
//
// signs with the current time and a fresh nonce, sends the request (JSON body unless BODY_FILE is empty)
// and prints the response's status code on the first line and its body after it.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
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

    /** Signs and sends one request; the target goes on the wire exactly as it was signed. */
    public static HttpResponse<String> send(String baseUrl, String keyId, String secret, String method,
                                            String target, byte[] body) throws Exception {
        String timestamp = Long.toString(System.currentTimeMillis() / 1000);
        byte[] random = new byte[16];
        new SecureRandom().nextBytes(random);
        String nonce = Base64.getUrlEncoder().withoutPadding().encodeToString(random);  // 22 of [A-Za-z0-9_-]
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl + target))
            .header("X-Zuofeng-Key", keyId)
            .header("X-Zuofeng-Timestamp", timestamp)
            .header("X-Zuofeng-Nonce", nonce)
            .header("X-Zuofeng-Signature", signature(secret, method, target, timestamp, nonce, body));
        if (body.length > 0) request.header("Content-Type", "application/json; charset=utf-8");
        request.method(method.toUpperCase(java.util.Locale.ROOT), body.length > 0
            ? HttpRequest.BodyPublishers.ofByteArray(body) : HttpRequest.BodyPublishers.noBody());
        // HTTP/1.1: on plain http Java would try an h2c upgrade, which uvicorn (the gateway) does not speak.
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        return client.send(request.build(),
                                               HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 7 && args[0].equals("send")) {
            HttpResponse<String> response = send(args[1], args[2], args[3], args[4], args[5],
                                                 Files.readAllBytes(Path.of(args[6])));
            System.out.println(response.statusCode());
            System.out.write(response.body().getBytes(StandardCharsets.UTF_8));  // UTF-8 whatever the locale
            System.out.println();
            return;
        }
        if (args.length != 6) {
            System.err.println("usage: HotlineSigner SECRET METHOD TARGET TIMESTAMP NONCE BODY_FILE\n"
                               + "       HotlineSigner send BASE_URL KEY_ID SECRET METHOD TARGET BODY_FILE");
            System.exit(2);
        }
        byte[] body = Files.readAllBytes(Path.of(args[5]));
        System.out.println(signature(args[0], args[1], args[2], args[3], args[4], body));
    }
}
