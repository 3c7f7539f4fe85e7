package goredis

import "testing"

func TestParseNodeView(t *testing.T) {
	const reply = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30002@40002 master - 0 1426238316232 2 connected 5461-10922\n" +
		"67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30001@40001 myself,master - 0 0 7 connected 0-5460 16383 [93->-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca] [77-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]\n"
	v, err := parseNodeView(reply)
	if err != nil {
		t.Fatalf("parseNodeView = %v", err)
	}
	if v.id != "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1" || !v.master || v.epoch != "7" {
		t.Fatalf("view = id %q master %v epoch %q, want the myself line's", v.id, v.master, v.epoch)
	}
	if n := v.owned.len(); n != 5462 || !v.owned.has(0) || !v.owned.has(5460) || !v.owned.has(16383) || v.owned.has(5461) {
		t.Fatalf("owned = %d slots, want 0-5460 and 16383", n)
	}
	if v.migrating[93] != "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca" || v.importing[77] != "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f" {
		t.Fatalf("migrating %v importing %v", v.migrating, v.importing)
	}

	same := v
	if m := moved(&v, &same); m.len() != 2 || !m.has(93) || !m.has(77) {
		t.Fatalf("moved(v, v) = %d slots, want the 2 being migrated", m.len())
	}
	w, _ := parseNodeView("x 127.0.0.1:1@2 myself,master - 0 0 7 connected 0-5459 16383\n")
	w.id = v.id
	if m := moved(&v, &w); m.len() != 3 || !m.has(5460) {
		t.Fatalf("moved after losing slot 5460 = %d slots, want 5460, 93, 77", m.len())
	}
	w.epoch = "8"
	if m := moved(&v, &w); m.len() != 5462 {
		t.Fatalf("moved after an epoch change = %d slots, want every slot owned", m.len())
	}
	var within slotSet
	within.add(1)
	if !sameWithin(&v, &v, &within) || sameWithin(&v, &w, &within) {
		t.Fatalf("sameWithin: a view must equal itself, and differ after an epoch change")
	}

	for _, bad := range []string{
		"",
		"a b myself,master - 0 0 1 connected 16384\n",
		"a b myself,master - 0 0 1 connected 9-3\n",
		"a b myself,master - 0 0 1 connected [5?x]\n",
	} {
		if _, err := parseNodeView(bad); err == nil {
			t.Errorf("parseNodeView(%q) = nil error, want one", bad)
		}
	}
}

// TestSlotSetAddRange checks the word-at-a-time addRange against adding
// each slot, for ranges that start and end inside, on and across 64-slot
// words.
func TestSlotSetAddRange(t *testing.T) {
	ends := []uint16{0, 1, 62, 63, 64, 65, 127, 128, 5460, 5461, 10922, 16320, 16382, 16383}
	for _, lo := range ends {
		for _, hi := range ends {
			if hi < lo {
				continue
			}
			var got, want slotSet
			got.addRange(lo, hi)
			for i := int(lo); i <= int(hi); i++ {
				want.add(uint16(i))
			}
			if got != want {
				t.Fatalf("addRange(%d, %d): %d slots, want %d", lo, hi, got.len(), want.len())
			}
		}
	}
}
