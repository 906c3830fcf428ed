/*
 * dirqkit driver for java-dirq (protocol v1, see PROTOCOL.md).
 *
 * Usage: java -cp CLASSES:JAVA_DIRQ_JAR:SLF4J_API_JAR DirqDriver
 * (`python -m dirqkit.drivers.java_dirq` compiles this file once and runs it).
 *
 * Only the JDK besides java-dirq: JSON is read and written by the small
 * codec below, which covers what the protocol uses (objects, arrays, strings
 * with any \\u escape, lone surrogates included, integers, decimals, true,
 * false, null). Queue types: Simple (ch.cern.dirq.QueueSimple) and Null
 * (ch.cern.dirq.QueueNull); java-dirq has no Normal queue and no set, and
 * its API has no touch: those answer unsupported.
 *
 * How java-dirq's API meets the protocol:
 * - open options: umask goes to the constructor (which creates TOP with it),
 *   rndhex, granularity, maxtemp and maxlock to the setters, all as given;
 *   a value that is not a Java int is refused as invalid_option;
 * - permissive omitted: lock(name) and unlock(name), java-dirq's defaults;
 * - purge omitted limits: purge() or purge(maxLock); a maxtemp alone is
 *   passed with the queue's own maxLock (getMaxLock()), which is what
 *   purge() would use.
 *
 * java-dirq reports failures as Java NIO exceptions named after the errno,
 * so the kind follows from the op and the exception, as for the drivers of
 * the other errno-reporting implementations:
 *   lock + FileAlreadyExistsException (EEXIST)    -> locked
 *   lock + NoSuchFileException (ENOENT)           -> not_found
 *   unlock, get + NoSuchFileException             -> not_locked
 *   add_path, remove + NoSuchFileException        -> not_found
 *   remove + NoSuchFileException on the .lck      -> not_locked, effect unknown
 *                                                    (the element was unlinked first)
 *   InvalidPathException (a NUL in a name)        -> invalid_name (in open and add_path: io)
 *   IllegalArgumentException "invalid umask"      -> invalid_option
 *   UnsupportedOperationException (Null queues)   -> unsupported
 *   any other IOException or IllegalArgumentException -> io, effect unknown
 *   anything else                                 -> internal, effect unknown
 */

import ch.cern.dirq.Queue;
import ch.cern.dirq.QueueNull;
import ch.cern.dirq.QueueSimple;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

public final class DirqDriver {

    static final int PROTOCOL = 1;
    static final List<String> SIMPLE_OPTIONS = Arrays.asList("umask", "rndhex", "granularity", "maxtemp", "maxlock");

    /** An error reply decided by the driver or named from an exception. */
    static final class Refusal extends Exception {
        private static final long serialVersionUID = 1L;
        final String kind;
        final String effect;

        Refusal(String kind, String message, String effect) {
            super(message);
            this.kind = kind;
            this.effect = effect;
        }

        Refusal(String kind, String message) {
            this(kind, message, "none");
        }

        Map<String, Object> wire() {
            Map<String, Object> error = new LinkedHashMap<>();
            error.put("kind", kind);
            error.put("message", getMessage() == null ? kind : getMessage());
            error.put("effect", effect);
            return error;
        }
    }

    /** A request the driver cannot carry out as sent: kind internal. */
    static Refusal bad(String message) {
        return new Refusal("internal", "bad request: " + message);
    }

    /** One open queue. */
    static final class Entry {
        final String type;
        final Queue queue;

        Entry(String type, Queue queue) {
            this.type = type;
            this.queue = queue;
        }
    }

    private final Map<String, Entry> handles = new HashMap<>();
    private int opened;
    private boolean loaded;
    private boolean running = true;

    // -- JSON ---------------------------------------------------------------

    /** Reads one JSON text: Map, List, String, Long, BigDecimal, Boolean or null. */
    static final class JsonReader {
        private final String text;
        private int at;

        JsonReader(String text) {
            this.text = text;
        }

        static Object parse(String text) throws Refusal {
            JsonReader reader = new JsonReader(text);
            Object value = reader.value();
            reader.space();
            if (reader.at != text.length()) {
                throw reader.error("trailing characters");
            }
            return value;
        }

        private Refusal error(String what) {
            return new Refusal("internal", "request is not JSON: " + what + " at character " + at);
        }

        private void space() {
            while (at < text.length() && " \t\r\n".indexOf(text.charAt(at)) >= 0) {
                at++;
            }
        }

        private boolean take(String word) {
            if (text.startsWith(word, at)) {
                at += word.length();
                return true;
            }
            return false;
        }

        private Object value() throws Refusal {
            space();
            if (at >= text.length()) {
                throw error("unexpected end");
            }
            char c = text.charAt(at);
            if (c == '{') {
                return object();
            }
            if (c == '[') {
                return array();
            }
            if (c == '"') {
                return string();
            }
            if (take("true")) {
                return Boolean.TRUE;
            }
            if (take("false")) {
                return Boolean.FALSE;
            }
            if (take("null")) {
                return null;
            }
            return number();
        }

        private Map<String, Object> object() throws Refusal {
            Map<String, Object> map = new LinkedHashMap<>();
            at++;
            space();
            if (take("}")) {
                return map;
            }
            while (true) {
                space();
                if (at >= text.length() || text.charAt(at) != '"') {
                    throw error("expected a member name");
                }
                String key = string();
                space();
                if (!take(":")) {
                    throw error("expected ':'");
                }
                map.put(key, value());
                space();
                if (take("}")) {
                    return map;
                }
                if (!take(",")) {
                    throw error("expected ',' or '}'");
                }
            }
        }

        private List<Object> array() throws Refusal {
            List<Object> list = new ArrayList<>();
            at++;
            space();
            if (take("]")) {
                return list;
            }
            while (true) {
                list.add(value());
                space();
                if (take("]")) {
                    return list;
                }
                if (!take(",")) {
                    throw error("expected ',' or ']'");
                }
            }
        }

        private String string() throws Refusal {
            StringBuilder out = new StringBuilder();
            at++;
            while (true) {
                if (at >= text.length()) {
                    throw error("unterminated string");
                }
                char c = text.charAt(at++);
                if (c == '"') {
                    return out.toString();
                }
                if (c < 0x20) {
                    throw error("control character in a string");
                }
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                if (at >= text.length()) {
                    throw error("unterminated escape");
                }
                char e = text.charAt(at++);
                switch (e) {
                    case '"': out.append('"'); break;
                    case '\\': out.append('\\'); break;
                    case '/': out.append('/'); break;
                    case 'b': out.append('\b'); break;
                    case 'f': out.append('\f'); break;
                    case 'n': out.append('\n'); break;
                    case 'r': out.append('\r'); break;
                    case 't': out.append('\t'); break;
                    case 'u':
                        if (at + 4 > text.length()) {
                            throw error("short \\u escape");
                        }
                        try {
                            out.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                        } catch (NumberFormatException ex) {
                            throw error("bad \\u escape");
                        }
                        at += 4;
                        break;
                    default:
                        throw error("bad escape \\" + e);
                }
            }
        }

        private Object number() throws Refusal {
            int start = at;
            boolean integral = true;
            while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) {
                integral &= "+.eE".indexOf(text.charAt(at)) < 0;
                at++;
            }
            String literal = text.substring(start, at);
            if (literal.isEmpty() || !literal.matches("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?")) {
                at = start;
                throw error("unexpected character");
            }
            if (integral) {
                try {
                    return Long.parseLong(literal);
                } catch (NumberFormatException ex) {
                    // too large for a long: kept as a decimal, which no int argument accepts
                }
            }
            return new BigDecimal(literal);
        }
    }

    /** Writes JSON in ASCII: every other UTF-16 unit as a \\u escape, so lone surrogates survive. */
    static void write(Object value, StringBuilder out) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof String) {
            String s = (String) value;
            out.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c == '"' || c == '\\') {
                    out.append('\\').append(c);
                } else if (c >= 0x20 && c < 0x7f) {
                    out.append(c);
                } else {
                    out.append(String.format("\\u%04x", (int) c));
                }
            }
            out.append('"');
        } else if (value instanceof Map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> member : ((Map<?, ?>) value).entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                write(String.valueOf(member.getKey()), out);
                out.append(':');
                write(member.getValue(), out);
            }
            out.append('}');
        } else if (value instanceof List) {
            out.append('[');
            boolean first = true;
            for (Object item : (List<?>) value) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                write(item, out);
            }
            out.append(']');
        } else {
            out.append(value); // Boolean, Long, Integer
        }
    }

    // -- arguments --------------------------------------------------------------

    static Object required(Map<String, Object> request, String name) throws Refusal {
        Object value = request.get(name);
        if (value == null) {
            throw bad("missing argument " + name);
        }
        return value;
    }

    static String text(Map<String, Object> request, String name) throws Refusal {
        Object value = required(request, name);
        if (!(value instanceof String)) {
            throw bad("argument " + name + " must be a string");
        }
        return (String) value;
    }

    static long count(Map<String, Object> request, String name) throws Refusal {
        Object value = required(request, name);
        if (!(value instanceof Long) || (Long) value < 0) {
            throw bad("argument " + name + " must be an integer >= 0");
        }
        return (Long) value;
    }

    /** An option or purge limit as the Java int java-dirq takes; other values cannot be passed at all. */
    static int javaInt(Object value, String name) throws Refusal {
        if (value instanceof Long && (Long) value >= Integer.MIN_VALUE && (Long) value <= Integer.MAX_VALUE) {
            return (int) (long) (Long) value;
        }
        throw new Refusal("invalid_option", "invalid " + name + ": " + value + " is not a Java int");
    }

    static Boolean permissive(Map<String, Object> request) throws Refusal {
        Object value = request.get("permissive");
        if (value != null && !(value instanceof Boolean)) {
            throw bad("argument permissive must be a boolean");
        }
        return (Boolean) value;
    }

    static byte[] base64(Object value, String where) throws Refusal {
        if (!(value instanceof String) || ((String) value).length() % 4 != 0) {
            throw bad(where + " must be a padded base64 string");
        }
        try {
            return Base64.getDecoder().decode((String) value);
        } catch (IllegalArgumentException ex) {
            throw bad(where + " is not valid base64");
        }
    }

    Entry entry(Map<String, Object> request, String name) throws Refusal {
        String key = text(request, name);
        Entry found = handles.get(key);
        if (found == null) {
            throw bad("unknown queue handle " + key);
        }
        return found;
    }

    Queue queue(Map<String, Object> request) throws Refusal {
        return entry(request, "queue").queue;
    }

    // -- payloads and histories -----------------------------------------------------

    static String sha256(byte[] data) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(data);
            StringBuilder hex = new StringBuilder();
            for (byte b : hash) {
                hex.append(String.format("%02x", b & 0xff));
            }
            return hex.toString();
        } catch (NoSuchAlgorithmException ex) {
            throw new IllegalStateException(ex);
        }
    }

    static byte[] payload(String seed, long index, long size) {
        StringBuilder text = new StringBuilder();
        for (int k = 0; text.length() < size; k++) {
            text.append(sha256((seed + ":" + index + ":" + k).getBytes(StandardCharsets.UTF_8)));
        }
        return text.substring(0, (int) size).getBytes(StandardCharsets.US_ASCII);
    }

    /** History timestamps: wall clock in integer microseconds since the Unix epoch. */
    static long now() {
        Instant instant = Instant.now();
        return instant.getEpochSecond() * 1_000_000L + instant.getNano() / 1000;
    }

    static Map<String, Object> event(String type, String op, String key, Object value) {
        Map<String, Object> event = new LinkedHashMap<>();
        event.put("type", type);
        event.put("op", op);
        if (key != null) {
            event.put(key, value);
        }
        return event;
    }

    static void record(List<Object> history, Map<String, Object> event) {
        event.put("time", now());
        history.add(event);
    }

    /** The failed step's completion: fail, or info when its effect is unknown. */
    void recordFailure(List<Object> history, String op, String key, Object value, Throwable thrown) {
        Refusal failure = failure(op, thrown);
        Map<String, Object> event = event("unknown".equals(failure.effect) ? "info" : "fail", op, key, value);
        event.put("error", failure.wire());
        record(history, event);
    }

    static Map<String, Object> batch(long done, List<Object> history) {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("count", done);
        result.put("history", history);
        return result;
    }

    // -- errors -------------------------------------------------------------------

    static String describe(Throwable thrown) {
        String message = thrown.getMessage();
        return thrown.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }

    /** The error an exception stands for (see the table at the top of this file). */
    static Refusal failure(String op, Throwable thrown) {
        if (thrown instanceof Refusal) {
            return (Refusal) thrown;
        }
        String message = describe(thrown);
        if (thrown instanceof UnsupportedOperationException) {
            return new Refusal("unsupported", "java-dirq null queues have no " + op + " (" + message + ")");
        }
        if (thrown instanceof InvalidPathException && !op.equals("open") && !op.equals("add_path")) {
            return new Refusal("invalid_name", message);
        }
        if (thrown instanceof IllegalArgumentException) {
            String text = String.valueOf(thrown.getMessage());
            return text.startsWith("invalid umask") ? new Refusal("invalid_option", message)
                                                    : new Refusal("io", message, "unknown");
        }
        if (thrown instanceof FileAlreadyExistsException && op.equals("lock")) {
            return new Refusal("locked", message);
        }
        if (thrown instanceof NoSuchFileException) {
            String file = String.valueOf(((FileSystemException) thrown).getFile());
            switch (op) {
                case "lock": case "add_path":
                    return new Refusal("not_found", message);
                case "unlock": case "get":
                    return new Refusal("not_locked", message);
                case "remove":
                    return file.endsWith(QueueSimple.LOCKED_SUFFIX) ? new Refusal("not_locked", message, "unknown")
                                                                   : new Refusal("not_found", message);
                default:
                    break;
            }
        }
        if (thrown instanceof IOException) {
            return new Refusal("io", message, "unknown");
        }
        thrown.printStackTrace(System.err);
        return new Refusal("internal", op + ": " + message, "unknown");
    }

    // -- ops --------------------------------------------------------------------------

    Object dispatch(String op, Map<String, Object> r) throws Exception {
        if (!loaded && isKnown(op)) {
            throw bad("the first request must be hello");
        }
        switch (op) {
            case "hello": return hello(r);
            case "open": return open(r);
            case "add": {
                Queue q = queue(r);
                return q.add(base64(r.get("data"), "data"));
            }
            case "add_path": return queue(r).addPath(text(r, "path"));
            case "lock": {
                Queue q = queue(r);
                Boolean p = permissive(r);
                return p == null ? q.lock(text(r, "name")) : q.lock(text(r, "name"), p);
            }
            case "unlock": {
                Queue q = queue(r);
                Boolean p = permissive(r);
                return p == null ? q.unlock(text(r, "name")) : q.unlock(text(r, "name"), p);
            }
            case "touch":
                queue(r);
                throw new Refusal("unsupported", "java-dirq queues have no touch (the Queue API lacks it)");
            case "get": {
                Queue q = queue(r);
                return Base64.getEncoder().encodeToString(q.getAsByteArray(text(r, "name")));
            }
            case "get_path": {
                Queue q = queue(r);
                return q.getPath(text(r, "name"));
            }
            case "remove": {
                Queue q = queue(r);
                q.remove(text(r, "name"));
                return null;
            }
            case "count": return (long) queue(r).count();
            case "list": {
                List<Object> names = new ArrayList<>();
                for (String name : queue(r)) {
                    names.add(name);
                }
                return names;
            }
            case "purge": return purge(r);
            case "set_list": case "set_add": case "set_remove": case "set_first": case "set_next":
                throw new Refusal("unsupported", "java-dirq has no queue sets");
            case "produce": return produce(r);
            case "consume": return consume(r);
            case "close":
                entry(r, "queue");
                handles.remove(r.get("queue"));
                return null;
            case "shutdown":
                running = false;
                return null;
            default:
                throw new Refusal("unsupported", "unknown op " + op);
        }
    }

    static boolean isKnown(String op) {
        return Arrays.asList("open", "add", "add_path", "lock", "unlock", "touch", "get", "get_path", "remove",
                             "count", "list", "purge", "set_list", "set_add", "set_remove", "set_first",
                             "set_next", "produce", "consume", "close").contains(op);
    }

    Object hello(Map<String, Object> r) throws Refusal {
        if (!Long.valueOf(PROTOCOL).equals(r.get("protocol"))) {
            throw new Refusal("unsupported", "this driver speaks protocol " + PROTOCOL + ", not " + r.get("protocol"));
        }
        if (!loaded) {
            try {
                Class.forName("ch.cern.dirq.QueueSimple"); // also loads slf4j, its runtime dependency
            } catch (ClassNotFoundException | LinkageError ex) {
                throw new Refusal("unsupported", "implementation unavailable: " + describe(ex)
                                  + " (java-dirq and slf4j-api must be on the class path)");
            }
            loaded = true;
        }
        Map<String, Object> implementation = new LinkedHashMap<>();
        implementation.put("name", "java-dirq");
        implementation.put("language", "java");
        implementation.put("version", version());
        implementation.put("homepage", "https://github.com/cern-mig/java-dirq");
        Map<String, Object> options = new LinkedHashMap<>();
        options.put("simple", new ArrayList<Object>(SIMPLE_OPTIONS));
        options.put("null", new ArrayList<Object>());
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("protocol", (long) PROTOCOL);
        result.put("implementation", implementation);
        result.put("queue_types", Arrays.asList("simple", "null"));
        result.put("roles", Arrays.asList("producer", "consumer", "purger"));
        result.put("features", Arrays.asList("batch"));
        result.put("options", options);
        return result;
    }

    /** java-dirq's version from its jar: the manifest, else Maven's pom.properties, else unknown. */
    static String version() {
        String found = QueueSimple.class.getPackage().getImplementationVersion();
        if (found != null) {
            return found;
        }
        try (InputStream in = QueueSimple.class.getResourceAsStream("/META-INF/maven/ch.cern.dirq/dirq/pom.properties")) {
            if (in != null) {
                Properties properties = new Properties();
                properties.load(in);
                return properties.getProperty("version", "unknown");
            }
        } catch (IOException ex) {
            // unreadable: unknown
        }
        return "unknown";
    }

    Object open(Map<String, Object> r) throws Exception {
        String type = text(r, "type");
        Object raw = r.get("options");
        if (raw != null && !(raw instanceof Map)) {
            throw bad("options must be an object");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> options = raw == null ? new LinkedHashMap<>() : (Map<String, Object>) raw;
        Queue queue;
        if (type.equals("null")) {
            if (!options.isEmpty()) {
                throw new Refusal("unsupported", "java-dirq null queues have no option " + String.join(", ", options.keySet()));
            }
            queue = new QueueNull();
        } else if (type.equals("simple")) {
            for (String name : options.keySet()) {
                if (!SIMPLE_OPTIONS.contains(name)) {
                    throw new Refusal("unsupported", "java-dirq simple queues have no option " + name);
                }
            }
            String path = text(r, "path");
            QueueSimple simple = options.containsKey("umask")
                ? new QueueSimple(path, javaInt(options.get("umask"), "umask"))
                : new QueueSimple(path);
            if (options.containsKey("rndhex")) {
                simple.setRndHex(javaInt(options.get("rndhex"), "rndhex"));
            }
            if (options.containsKey("granularity")) {
                simple.setGranularity(javaInt(options.get("granularity"), "granularity"));
            }
            if (options.containsKey("maxtemp")) {
                simple.setMaxTemp(javaInt(options.get("maxtemp"), "maxtemp"));
            }
            if (options.containsKey("maxlock")) {
                simple.setMaxLock(javaInt(options.get("maxlock"), "maxlock"));
            }
            queue = simple;
        } else {
            throw new Refusal("unsupported", "java-dirq has no " + type + " queues");
        }
        String key = "q" + (++opened);
        handles.put(key, new Entry(type, queue));
        return key;
    }

    Object purge(Map<String, Object> r) throws Exception {
        Queue q = queue(r);
        Object maxtemp = r.get("maxtemp");
        Object maxlock = r.get("maxlock");
        if (maxtemp == null && maxlock == null) {
            q.purge();
        } else if (maxtemp == null) {
            q.purge(javaInt(maxlock, "maxlock"));
        } else {
            int lock = maxlock != null ? javaInt(maxlock, "maxlock")
                     : q instanceof QueueSimple ? ((QueueSimple) q).getMaxLock() : 0;
            q.purge(lock, javaInt(maxtemp, "maxtemp"));
        }
        return null;
    }

    Object produce(Map<String, Object> r) throws Refusal {
        Queue q = queue(r);
        long total = count(r, "count");
        long size = count(r, "size");
        String seed = text(r, "seed");
        List<Object> history = new ArrayList<>();
        long done = 0;
        for (long index = 0; index < total; index++) {
            byte[] data = payload(seed, index, size);
            Map<String, Object> invoke = event("invoke", "add", "index", index);
            invoke.put("sha256", sha256(data));
            record(history, invoke);
            String name;
            try {
                name = q.add(data);
            } catch (Exception ex) {
                recordFailure(history, "add", "index", index, ex);
                break;
            }
            Map<String, Object> ok = event("ok", "add", "index", index);
            ok.put("name", name);
            record(history, ok);
            done++;
        }
        return batch(done, history);
    }

    Object consume(Map<String, Object> r) throws Refusal {
        Queue q = queue(r);
        Long limit = r.containsKey("limit") && r.get("limit") != null ? count(r, "limit") : null;
        Object holdRaw = r.get("hold");
        if (holdRaw != null && !(holdRaw instanceof Number)) {
            throw bad("argument hold must be a number");
        }
        long holdMillis = holdRaw == null ? 0 : Math.round(((Number) holdRaw).doubleValue() * 1000);
        List<Object> history = new ArrayList<>();
        long done = 0;
        String stage = "list";
        String name = null;
        try {
            boolean progress = true;
            while (progress && (limit == null || done < limit)) {
                progress = false;
                stage = "list";
                Iterator<String> names = q.iterator();
                while (names.hasNext()) {
                    name = names.next();
                    if (limit != null && done >= limit) {
                        break;
                    }
                    record(history, event("invoke", "lock", "name", name));
                    stage = "lock";
                    if (!q.lock(name, true)) {
                        record(history, event("fail", "lock", "name", name));
                        stage = "list";
                        continue; // CONC-4: taken by another consumer, or gone
                    }
                    record(history, event("ok", "lock", "name", name));
                    record(history, event("invoke", "get", "name", name));
                    stage = "get";
                    byte[] value = q.getAsByteArray(name);
                    Map<String, Object> got = event("ok", "get", "name", name);
                    got.put("sha256", sha256(value));
                    record(history, got);
                    if (holdMillis > 0) {
                        Thread.sleep(holdMillis);
                    }
                    record(history, event("invoke", "remove", "name", name));
                    stage = "remove";
                    q.remove(name);
                    record(history, event("ok", "remove", "name", name));
                    stage = "list";
                    done++;
                    progress = true;
                }
            }
        } catch (Exception ex) {
            if (stage.equals("list")) {
                recordFailure(history, stage, null, null, ex);
            } else {
                recordFailure(history, stage, "name", name, ex);
            }
        }
        return batch(done, history);
    }

    // -- the loop ------------------------------------------------------------------

    Map<String, Object> reply(String line) {
        Map<String, Object> reply = new LinkedHashMap<>();
        Object parsed;
        try {
            parsed = JsonReader.parse(line);
        } catch (Refusal refusal) {
            return errorReply(null, refusal);
        }
        Object seq = parsed instanceof Map ? ((Map<?, ?>) parsed).get("seq") : null;
        Object op = parsed instanceof Map ? ((Map<?, ?>) parsed).get("op") : null;
        if (!(seq instanceof Long) || !(op instanceof String)) {
            return errorReply(null, new Refusal("internal", "request needs an integer seq and a string op"));
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> request = (Map<String, Object>) parsed;
        try {
            Object result = dispatch((String) op, request);
            reply.put("seq", seq);
            reply.put("ok", true);
            reply.put("result", result);
            return reply;
        } catch (Throwable thrown) { // every failure becomes an error reply
            return errorReply(seq, failure((String) op, thrown));
        }
    }

    static Map<String, Object> errorReply(Object seq, Refusal refusal) {
        Map<String, Object> reply = new LinkedHashMap<>();
        reply.put("seq", seq);
        reply.put("ok", false);
        reply.put("error", refusal.wire());
        return reply;
    }

    public static void main(String[] args) throws IOException {
        // stdout is for protocol only: keep the real one, and send every stray print to stderr
        OutputStream out = new FileOutputStream(FileDescriptor.out);
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        DirqDriver driver = new DirqDriver();
        String line;
        while (driver.running && (line = in.readLine()) != null) {
            if (line.trim().isEmpty()) {
                continue;
            }
            StringBuilder text = new StringBuilder();
            write(driver.reply(line), text);
            text.append('\n');
            out.write(text.toString().getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }
        System.exit(0);
    }
}
