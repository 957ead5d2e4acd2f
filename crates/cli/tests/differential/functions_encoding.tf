output "b64" { value = base64encode("hello") }
output "json" { value = jsonencode({ a = [1, "x"], b = null }) }
output "urlenc" { value = urlencode("a b&c") }
