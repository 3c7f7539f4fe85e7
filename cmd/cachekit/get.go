package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/cachekit/cachekit/codec"
	"github.com/cachekit/cachekit/memo"
)

func getCmd(e *env, args []string) error {
	const synopsis = "get NAMESPACE KEY | get --stored STOREDKEY"
	fs := newFlags(e, "get", synopsis)
	var f connFlags
	f.register(fs)
	stored := fs.String("stored", "", "explain this Redis key as stored (as redis-cli shows it) instead of NAMESPACE KEY")
	maxPayload := fs.Int("max-payload", 4096, "print at most this many bytes of the decoded payload")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *stored != "" {
		err = wantArgs(pos, 0, 0, "no arguments with --stored")
	} else {
		err = wantArgs(pos, 2, 2, "NAMESPACE KEY")
	}
	if err != nil {
		return err
	}
	s, err := connect(e, &f)
	if err != nil {
		return err
	}
	defer s.close()

	var (
		ent  *entry
		head [][2]string
	)
	if *stored != "" {
		sk, ok := memo.ParseStoredKey(*stored)
		if !ok {
			return usageErrorf("not a cachekit key: %q is not <namespace>:v<version>:<generation>:<key>", *stored)
		}
		if sk.Role != memo.RoleData {
			return usageErrorf("%q is the %s key of namespace %q, not a cached entry", *stored, sk.Role, sk.Namespace)
		}
		if ent, err = s.fetch(e, *stored, fmt.Sprintf("stored key %q", *stored)); err != nil {
			return err
		}
		key := sk.Key
		if sk.Hashed {
			key = "(hashed: the user key was over 200 bytes)"
		}
		head = [][2]string{{"key", key}, {"namespace", fmt.Sprintf("%q (version %d, generation %d)", sk.Namespace, sk.Version, sk.Generation)}}
	} else {
		ns, ent2, err := s.userEntry(e, &f, pos[0], pos[1])
		if err != nil {
			return err
		}
		ent = ent2
		head = [][2]string{{"key", pos[1]}, {"namespace", ns.String()}}
	}
	explain(e, head, ent, *maxPayload)
	return nil
}

// explain prints what an entry holds and when it expires.
func explain(e *env, head [][2]string, ent *entry, maxPayload int) {
	now := time.Now()
	m := ent.meta
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	for _, h := range head {
		row(h[0], h[1])
	}
	row("stored key", ent.stored)
	row("kind", m.Kind.String())
	row("codec", m.Codec.Name())
	row("compression", m.Compression.String())
	row("size", fmt.Sprintf("%d bytes stored", len(ent.data)))
	row("created at", when(m.CreatedAt, now))
	switch {
	case m.SoftExpiry.IsZero():
		row("soft expiry", "none")
	case m.SoftExpiry.After(now):
		row("soft expiry", when(m.SoftExpiry, now)+": fresh")
	default:
		row("soft expiry", when(m.SoftExpiry, now)+": stale (served only within a stale window)")
	}
	row("stale windows", fmt.Sprintf("while-revalidate %s, if-error %s (0: the reader's defaults)",
		m.StaleWhileRevalidate, m.StaleIfError))
	row("load took", m.LoadDuration.String())
	row("generation", fmt.Sprint(m.Generation))
	row("TTL", ttlString(ent.ttl))
	_ = tw.Flush()
	if m.Kind != codec.KindValue {
		fmt.Fprintf(e.stdout, "payload: none (a %s entry carries metadata only)\n", m.Kind)
		return
	}
	fmt.Fprintln(e.stdout, payloadText(ent.data, m, maxPayload))
}

// when formats t with its distance from now.
func when(t, now time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	d := t.Sub(now).Round(time.Millisecond)
	rel := "in " + d.String()
	if d < 0 {
		rel = (-d).String() + " ago"
	}
	return t.UTC().Format(time.RFC3339Nano) + " (" + rel + ")"
}

func ttlString(ttl time.Duration) string {
	if ttl < 0 {
		return "none: the key never expires (a cache key should; see cachekit expire)"
	}
	return ttl.Round(time.Millisecond).String()
}

// payloadText decodes the payload with the codec the entry names into a
// generic value and renders it as JSON, when the codec allows.
func payloadText(data []byte, m codec.Meta, max int) string {
	env := codec.Envelope{Codec: m.Codec}
	var v any
	if _, err := env.Decode(data, &v); err != nil {
		if m.Codec == codec.Gob {
			return "payload: not shown: gob cannot decode without the Go type that wrote it"
		}
		return fmt.Sprintf("payload: not decodable as generic data: %v", err)
	}
	out, err := json.MarshalIndent(jsonable(v, 0), "", "  ")
	if err != nil {
		return fmt.Sprintf("payload: not representable as JSON: %v", err)
	}
	label := "payload (" + m.Codec.Name() + ", as JSON)"
	if b, ok := v.([]byte); ok {
		label = "payload (" + m.Codec.Name() + ", " + bytesKind(b) + ")"
		out = []byte(bytesText(b))
	}
	if len(out) > max {
		return fmt.Sprintf("%s, first %d of %d bytes:\n%s\n…", label, max, len(out), truncateUTF8(out, max))
	}
	return label + ":\n" + string(out)
}

// jsonable converts what msgpack decodes into a generic value (maps with
// non-string keys, byte slices) into something encoding/json renders.
func jsonable(v any, depth int) any {
	if depth > codec.MaxDepth {
		return "…"
	}
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = jsonable(x, depth+1)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[fmt.Sprint(k)] = jsonable(x, depth+1)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = jsonable(x, depth+1)
		}
		return out
	case []byte:
		return bytesText(v)
	}
	return v
}

func bytesKind(b []byte) string {
	if utf8.Valid(b) {
		return "text"
	}
	return "binary, base64"
}

// bytesText is b as text when it is UTF-8, else base64.
func bytesText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func truncateUTF8(b []byte, n int) string {
	b = b[:n]
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	return string(bytes.TrimRight(b, "\n"))
}
