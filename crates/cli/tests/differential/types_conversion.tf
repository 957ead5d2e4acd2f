output "tonumber" { value = tonumber("42") }
output "tobool" { value = tobool("true") }
output "tolist" { value = tolist(["a", "b"]) }
output "toset" { value = toset(["b", "a", "b"]) }
output "tomap" { value = tomap({ a = "1", b = "2" }) }
output "num_str" { value = "5" + 1 }
