package goredis

import "strings"

// slotCount is the number of Redis Cluster hash slots.
const slotCount = 16384

// slot returns the Redis Cluster hash slot of key: CRC16 (XMODEM) of the
// key, or of its hash tag (the bytes between the first '{' and the first
// '}' after it, when not empty), modulo 16384. go-redis keeps its own slot
// function internal.
func slot(key string) uint16 {
	if tag, ok := hashTag(key); ok {
		key = tag
	}
	return crc16(key) % slotCount
}

// hashTag returns key's hash tag (the bytes between the first '{' and the
// first '}' after it) and whether it has a non-empty one.
func hashTag(key string) (string, bool) {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j], true
		}
	}
	return "", false
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the
// checksum Redis Cluster uses for key slots.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^s[i]]
	}
	return crc
}

var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// groupBySlot splits keys into groups whose keys share a hash slot, in
// order of first appearance, so each group can go in one multi-key
// command on a Cluster.
func groupBySlot(keys []string) [][]string {
	idx := slotGroups(keys)
	groups := make([][]string, len(idx))
	for g, ix := range idx {
		groups[g] = make([]string, len(ix))
		for j, i := range ix {
			groups[g][j] = keys[i]
		}
	}
	return groups
}

// slotGroups is groupBySlot returning indexes into keys.
func slotGroups(keys []string) [][]int {
	idx := make(map[uint16]int)
	var groups [][]int
	for i, k := range keys {
		s := slot(k)
		g, ok := idx[s]
		if !ok {
			g = len(groups)
			idx[s] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}
