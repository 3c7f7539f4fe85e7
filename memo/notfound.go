package memo

// isNotFound reports whether Options.NotFound classifies the loader error
// err as "no value".
func (c *Cache[V]) isNotFound(err error) bool {
	return c.opts.NotFound != nil && err != nil && c.opts.NotFound(err)
}
