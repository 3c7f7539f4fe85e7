// Package codecbench compares cachekit's codecs and compressions on your
// own data, so the choice of [codec.Envelope] settings rests on numbers
// for your values rather than on someone else's benchmark.
//
// Call [Compare] from a test or a small program with samples of the type
// you cache:
//
//	rep, err := codecbench.Compare(posts, &codecbench.Options{Time: 2 * time.Second})
//	...
//	rep.WriteTable(os.Stdout)
//
// Every codec ([codec.MsgPack], [codec.JSON], [codec.Gob], and
// [codec.Raw] for []byte and string) runs with every compression (none,
// [codec.S2], [codec.Zstd]) through a real [codec.Envelope] whose Codec is
// set explicitly, exactly as a cache stores values. Each sample is
// round-tripped first and compared with the original ([Diff] by default);
// a combination that cannot encode the type or loses data is reported
// with the reason and is not timed. The others are timed in interleaved
// repeats within a time budget, reporting encode and decode ns/op (min,
// median, max), allocations and bytes allocated per op, the encoded size
// and the compression ratio.
//
// A [Report] renders as a terminal table ([Report.WriteTable]), Markdown
// ([Report.WriteMarkdown]), JSON ([Report.WriteJSON]) and an SVG chart
// ([Report.WriteSVG], [WriteSVG]), and carries a one-line recommendation
// ([Report.Recommend]): the smallest combination within 10% of the
// fastest decode.
//
// The cachekit command runs the same comparison on JSON samples:
//
//	go -C cmd/cachekit run . bench codecs --sample data.ndjson --svg codecs.svg
//
// Timings are as good as the machine is quiet; allocations per op are the
// stable figure. Compare reads runtime.MemStats, so run it without other
// busy goroutines.
package codecbench
