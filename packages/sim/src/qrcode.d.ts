// Minimal typing for the `qrcode` package (it ships none; no @types dependency is added).
declare module 'qrcode' {
  interface ToDataURLOptions {
    margin?: number;
    width?: number;
    errorCorrectionLevel?: 'L' | 'M' | 'Q' | 'H';
  }
  const QRCode: { toDataURL(text: string, options?: ToDataURLOptions): Promise<string> };
  export default QRCode;
}
