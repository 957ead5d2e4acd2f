# terrane-difference: base64gzip's compressed bytes are a valid gzip stream of the same text, but not Go's compressor's bytes
output "gz" { value = base64gzip("hello world") }
