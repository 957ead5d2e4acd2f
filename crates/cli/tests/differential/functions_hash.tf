output "md5" { value = md5("x") }
output "sha1" { value = sha1("x") }
output "sha256" { value = sha256("x") }
output "uuidv5" { value = uuidv5("dns", "example.com") }
