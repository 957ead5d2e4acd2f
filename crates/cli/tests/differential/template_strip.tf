locals {
  items = ["a", "b"]
}
output "strip" {
  value = <<-EOT
    %{~ for i in local.items ~}
    item ${i}
    %{~ endfor ~}
    done
  EOT
}
output "nostrip" {
  value = "%{ for i in local.items }${i},%{ endfor }"
}
