output "h" {
  value = <<-EOT
    first
      indented

    after blank
  EOT
}
